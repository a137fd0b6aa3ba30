#pragma once

#include <string>

namespace sluice::publish {

// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then random bits, so ids sort by
// time. Thread-safe (a generator per thread).
std::string new_event_id();
// The same, written into `out` (36 characters, no terminator): no allocation.
void format_event_id(char* out);

// Now as RFC 3339 UTC with milliseconds: "2026-11-27T10:00:00.123Z".
std::string now_rfc3339();

}  // namespace sluice::publish
