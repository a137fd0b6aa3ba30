#define PCRE2_CODE_UNIT_WIDTH 8
#include "schema/regex.hpp"

#include <pcre2.h>

#include <stdexcept>

namespace sluice::schema {
namespace {

// JavaScript's \d, \w, \b are ASCII; its \s is Unicode. PCRE2 without UCP matches the
// first three; \uXXXX and \u{...} escapes come from the ALT_BSUX options.
constexpr uint32_t compile_options = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY;

// PCRE2 10.42 knows Unicode general categories by their short names only; ECMA-262
// patterns may use the long ones (\p{Letter}). Rewrites those into short names.
std::string translate(std::string_view pattern) {
    static constexpr std::pair<std::string_view, std::string_view> names[] = {
        {"Letter", "L"},
        {"Cased_Letter", "L&"},
        {"Uppercase_Letter", "Lu"},
        {"Lowercase_Letter", "Ll"},
        {"Titlecase_Letter", "Lt"},
        {"Modifier_Letter", "Lm"},
        {"Other_Letter", "Lo"},
        {"Mark", "M"},
        {"Nonspacing_Mark", "Mn"},
        {"Spacing_Mark", "Mc"},
        {"Enclosing_Mark", "Me"},
        {"Number", "N"},
        {"Decimal_Number", "Nd"},
        {"digit", "Nd"},
        {"Letter_Number", "Nl"},
        {"Other_Number", "No"},
        {"Punctuation", "P"},
        {"punct", "P"},
        {"Connector_Punctuation", "Pc"},
        {"Dash_Punctuation", "Pd"},
        {"Open_Punctuation", "Ps"},
        {"Close_Punctuation", "Pe"},
        {"Initial_Punctuation", "Pi"},
        {"Final_Punctuation", "Pf"},
        {"Other_Punctuation", "Po"},
        {"Symbol", "S"},
        {"Math_Symbol", "Sm"},
        {"Currency_Symbol", "Sc"},
        {"Modifier_Symbol", "Sk"},
        {"Other_Symbol", "So"},
        {"Separator", "Z"},
        {"Space_Separator", "Zs"},
        {"Line_Separator", "Zl"},
        {"Paragraph_Separator", "Zp"},
        {"Other", "C"},
        {"Control", "Cc"},
        {"cntrl", "Cc"},
        {"Format", "Cf"},
        {"Surrogate", "Cs"},
        {"Private_Use", "Co"},
        {"Unassigned", "Cn"}};
    // At a `\p{Long_Name}` or `\P{...}`: appends the short form and returns the index
    // of the closing brace; 0 when there is nothing to rewrite.
    auto rewrite = [&](std::size_t i, std::string& out) -> std::size_t {
        if (i + 2 >= pattern.size() || (pattern[i + 1] != 'p' && pattern[i + 1] != 'P') ||
            pattern[i + 2] != '{')
            return 0;
        auto close = pattern.find('}', i + 3);
        if (close == std::string_view::npos) return 0;
        std::string_view name = pattern.substr(i + 3, close - i - 3);
        if (name.starts_with("General_Category=")) name.remove_prefix(17);
        if (name.starts_with("gc=")) name.remove_prefix(3);
        for (auto [long_name, short_name] : names) {
            if (name != long_name) continue;
            out.append(pattern.substr(i, 3)).append(short_name).append("}");
            return close;
        }
        return 0;
    };
    std::string out;
    out.reserve(pattern.size());
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '\\' || i + 1 >= pattern.size()) {
            out += pattern[i];
        } else if (auto end = rewrite(i, out)) {
            i = end;
        } else {
            out += pattern[i];
            out += pattern[++i];
        }
    }
    return out;
}

pcre2_code* compile(std::string_view source, std::string* error) {
    std::string pattern = translate(source);
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_compile_context* cctx = pcre2_compile_context_create(nullptr);
    pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   compile_options, &code, &offset, cctx);
    pcre2_compile_context_free(cctx);
    if (!re && error) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(code, buf, sizeof buf);
        *error = std::string(reinterpret_cast<char*>(buf)) + " at offset " + std::to_string(offset);
    }
    return re;
}

struct match_data_holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~match_data_holder() { pcre2_match_data_free(data); }
};

}  // namespace

regex::regex(std::string_view pattern) : source_(pattern) {
    std::string error;
    auto* re = compile(pattern, &error);
    if (!re) throw std::invalid_argument("invalid pattern /" + source_ + "/: " + error);
    pcre2_jit_compile(re,
                      PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    code_ = re;
}

regex::~regex() {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool regex::search(std::string_view subject) const {
    return search_or(subject, false);
}

bool regex::search_or(std::string_view subject, bool on_engine_error) const {
    thread_local match_data_holder md;
    auto* code = static_cast<pcre2_code*>(code_);
    auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    int rc = pcre2_match(code, s, subject.size(), 0, 0, md.data, nullptr);
    if (rc >= 0) return true;
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    // The JIT ran out of its small stack (deep backtracking): the interpreter has
    // its own, larger limits.
    rc = pcre2_match(code, s, subject.size(), 0, PCRE2_NO_JIT, md.data, nullptr);
    if (rc >= 0) return true;
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    return on_engine_error;
}

bool regex::is_valid(std::string_view pattern) {
    auto* re = compile(pattern, nullptr);
    if (!re) return false;
    pcre2_code_free(re);
    return true;
}

}  // namespace sluice::schema
