#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::schema {

// How far one search may backtrack before it gives up. A pattern like `^(a+)+$`
// backtracks exponentially in the subject's length; these bound every search of an
// instance string to well under a millisecond.
struct regex_limits {
    std::uint32_t match_limit = 100'000;  // PCRE2 match limit (backtracking steps)
    std::uint32_t depth_limit = 10'000;   // PCRE2 depth limit (nested backtracking frames)
};

enum class search_result : std::uint8_t { match, no_match, limit };

// An ECMA-262-flavoured regular expression compiled once with PCRE2 (UTF mode, JIT
// when available, \u escapes as in JavaScript). Unanchored search, as JSON Schema's
// `pattern` requires. Thread-safe after construction: each call uses match data of
// its own thread.
class regex {
  public:
    // The JIT's stack per thread: it bounds the depth of a JIT search (PCRE2 applies
    // the depth limit only to the interpreter).
    static constexpr std::size_t jit_stack_bytes = 1024 * 1024;

    // Throws std::invalid_argument with PCRE2's message and offset on a bad pattern.
    explicit regex(std::string_view pattern);
    ~regex();
    regex(const regex&) = delete;
    regex& operator=(const regex&) = delete;

    // True on a match; false on none or when the engine gave up under the default
    // limits. For the engine's own fixed patterns, never for instance strings.
    bool search(std::string_view subject) const;

    // Searches under `limits`. The search runs under a small match limit first and
    // only a search that needs more is run again under a limit eight times larger,
    // up to limits.match_limit, so `work` (incremented by the match limits the
    // attempts ran under) bounds what the search cost, within a factor of about 1.2,
    // and a cheap search is charged little. Says `limit` when the engine gave up
    // (match or depth limit, or the JIT stack); such a search is never retried
    // without the JIT.
    search_result search(std::string_view subject, const regex_limits& limits,
                         std::uint64_t& work) const;
    const std::string& source() const { return source_; }
    bool uses_jit() const { return jit_; }

    // True when `pattern` compiles (the `regex` format).
    static bool is_valid(std::string_view pattern);

  private:
    std::string source_;
    void* code_ = nullptr;  // pcre2_code_8*
    bool jit_ = false;
};

}  // namespace sluice::schema
