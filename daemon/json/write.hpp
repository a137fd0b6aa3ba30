#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::json {

// Writing JSON text by hand, for the answers, frames and log lines Sluice builds
// itself (it reads JSON with simdjson). Sans-I/O; no allocation beyond `out`'s.

// Appends `text` to `out` as the inside of a JSON string (quotes not included).
// Bytes that are not UTF-8 come out as U+FFFD, so the result is always valid JSON.
void append_escaped(std::string& out, std::string_view text);
// `text` as a JSON string, quotes included: appended to `out`, or returned.
void append_string(std::string& out, std::string_view text);
std::string quoted(std::string_view text);

// The length of the well-formed UTF-8 sequence that starts `s` (RFC 3629): 1 to 4,
// or 0 when `s` is empty or starts with a byte no sequence starts with.
std::size_t utf8_sequence_length(std::string_view s);

}  // namespace sluice::json
