#define PCRE2_CODE_UNIT_WIDTH 8
#include "schema/regex.hpp"

#include <pcre2.h>

#include <algorithm>
#include <cstdint>
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

// Per thread: one match data block and one match context with its own JIT stack, so a
// search allocates nothing and threads share nothing.
struct match_state {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, regex::jit_stack_bytes, nullptr);
    match_state() {
        if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
    ~match_state() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(data);
    }
    match_state(const match_state&) = delete;
    match_state& operator=(const match_state&) = delete;
};

match_state& thread_match_state() {
    thread_local match_state state;
    return state;
}

// The first match limit a search runs under; nearly every pattern of a real contract
// finishes a real string well within it.
constexpr std::uint32_t first_match_limit = 128;

}  // namespace

regex::regex(std::string_view pattern) : source_(pattern) {
    std::string error;
    auto* re = compile(pattern, &error);
    if (!re) throw std::invalid_argument("invalid pattern /" + source_ + "/: " + error);
    // Where the platform has no JIT (or it cannot take this pattern), pcre2_match runs
    // the interpreter under the same limits.
    jit_ = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    code_ = re;
}

regex::~regex() {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool regex::search(std::string_view subject) const {
    std::uint64_t work = 0;
    return search(subject, regex_limits{}, work) == search_result::match;
}

search_result regex::search(std::string_view subject, const regex_limits& limits,
                            std::uint64_t& work) const {
    auto& state = thread_match_state();
    auto* code = static_cast<pcre2_code*>(code_);
    auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    pcre2_set_depth_limit(state.context, std::max<std::uint32_t>(limits.depth_limit, 1));
    const std::uint64_t cap = std::max<std::uint32_t>(limits.match_limit, 1);
    for (std::uint64_t limit = std::min<std::uint64_t>(first_match_limit, cap);;
         limit = std::min(limit * 8, cap)) {
        pcre2_set_match_limit(state.context, static_cast<std::uint32_t>(limit));
        work += limit;
        int rc = pcre2_match(code, s, subject.size(), 0, 0, state.data, state.context);
        if (rc >= 0) return search_result::match;
        if (rc == PCRE2_ERROR_NOMATCH) return search_result::no_match;
        // Only the match limit grows; the depth limit, the JIT stack and anything
        // else the engine reports are final.
        if (rc != PCRE2_ERROR_MATCHLIMIT || limit == cap) return search_result::limit;
    }
}

bool regex::is_valid(std::string_view pattern) {
    auto* re = compile(pattern, nullptr);
    if (!re) return false;
    pcre2_code_free(re);
    return true;
}

}  // namespace sluice::schema
