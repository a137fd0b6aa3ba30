#define PCRE2_CODE_UNIT_WIDTH 8
#include "schema/regex.hpp"

#include <pcre2.h>

#include <stdexcept>

namespace sluice::schema {
namespace {

// JavaScript's \d, \w, \b are ASCII; its \s is Unicode. PCRE2 without UCP matches the
// first three; \uXXXX and \u{...} escapes come from the ALT_BSUX options.
constexpr uint32_t compile_options = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY;

pcre2_code* compile(std::string_view pattern, std::string* error) {
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
    thread_local match_data_holder md;
    int rc =
        pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(subject.data()),
                    subject.size(), 0, 0, md.data, nullptr);
    return rc >= 0;
}

bool regex::is_valid(std::string_view pattern) {
    auto* re = compile(pattern, nullptr);
    if (!re) return false;
    pcre2_code_free(re);
    return true;
}

}  // namespace sluice::schema
