#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace sluice::schema {

// An ECMA-262-flavoured regular expression compiled once with PCRE2 (UTF mode, JIT
// when available, \u escapes as in JavaScript). Unanchored search, as JSON Schema's
// `pattern` requires. Thread-safe after construction: each call uses match data of
// its own thread.
class regex {
  public:
    // Throws std::invalid_argument with PCRE2's message and offset on a bad pattern.
    explicit regex(std::string_view pattern);
    ~regex();
    regex(const regex&) = delete;
    regex& operator=(const regex&) = delete;

    // True on a match. When the engine gives up (backtracking limits), search() says
    // false and search_or() says `on_engine_error`, so callers can fail closed.
    bool search(std::string_view subject) const;
    bool search_or(std::string_view subject, bool on_engine_error) const;
    const std::string& source() const { return source_; }

    // True when `pattern` compiles (the `regex` format).
    static bool is_valid(std::string_view pattern);

  private:
    std::string source_;
    void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace sluice::schema
