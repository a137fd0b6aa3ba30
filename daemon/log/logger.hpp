#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace sluice::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3 };
enum class format { json, text };

// Parses "debug", "info", "warn" (or "warning"), "error". False on anything else.
bool parse_level(std::string_view text, level& out);
std::string_view to_string(level l);

// One key/value pair of a log line. Holds views: the values must outlive the call.
struct field {
    using value_type = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

    std::string_view key;
    value_type value;

    field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, std::string_view v) : key(k), value(v) {}
    field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, bool v) : key(k), value(v) {}
    field(std::string_view k, double v) : key(k), value(v) {}
    template <std::signed_integral Int>
    requires(!std::same_as<Int, bool>) field(std::string_view k, Int v)
        : key(k), value(static_cast<std::int64_t>(v)) {}
    template <std::unsigned_integral UInt>
    requires(!std::same_as<UInt, bool>) field(std::string_view k, UInt v)
        : key(k), value(static_cast<std::uint64_t>(v)) {}
};

using fields = std::initializer_list<field>;

// Process-wide settings; safe to call while other threads log (SIGHUP reload).
void configure(level min_level, format fmt);
bool is_enabled(level l);

// Writes one line to stdout: a JSON object {"time","level","msg",...fields} or, in
// text format, `time LEVEL msg key=value ...`. Thread-safe; a line is never torn.
void write(level l, std::string_view msg, fields f = {});
// The same with fields gathered at run time.
void write(level l, std::string_view msg, std::span<const field> f);

inline void debug(std::string_view msg, fields f = {}) {
    if (is_enabled(level::debug)) write(level::debug, msg, f);
}
inline void info(std::string_view msg, fields f = {}) {
    if (is_enabled(level::info)) write(level::info, msg, f);
}
inline void warn(std::string_view msg, fields f = {}) {
    if (is_enabled(level::warn)) write(level::warn, msg, f);
}
inline void error(std::string_view msg, fields f = {}) {
    write(level::error, msg, f);
}

// Appends the current time to `out` as RFC 3339 UTC with milliseconds
// ("2026-11-27T10:00:00.123Z"), the form log lines and stored events carry.
void append_timestamp(std::string& out);

}  // namespace sluice::log
