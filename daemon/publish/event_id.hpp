#pragma once

namespace sluice::publish {

// Writes a UUIDv7 (RFC 9562) into `out`: 36 characters, no terminator. 48 bits of Unix
// milliseconds then random bits, so ids sort by time. Thread-safe (a generator per
// thread); allocates nothing.
void format_event_id(char* out);

}  // namespace sluice::publish
