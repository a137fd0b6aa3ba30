#pragma once

#include <string>
#include <string_view>

#include "redis/script.hpp"

namespace sluice::deliver {

// Takes over entries of a group that are due for redelivery, and dead-letters those
// that used up their deliveries, in one atomic step on the type's slot.
//   KEYS[1] stream, KEYS[2] dead-letter stream, KEYS[3] nack reasons
//   ARGV group, consumer, ack_timeout_ms, retry_backoff_ms, retry_backoff_max_ms,
//        max_deliveries, count, now (RFC 3339), start ("-", or the `next` of the
//        previous call)
// An entry delivered n times is due once it has been idle (Redis PEL idle time)
// ack_timeout + min(retry_backoff * 2^(n-1), retry_backoff_max). Due entries with
// n >= max_deliveries go to the dead-letter stream (whole event plus dlq_* fields)
// and are XACKed; the others are XCLAIMed by `consumer` (at most `count`). One call
// looks at one page of the PEL from `start`; `next` is where the following call
// starts ("(<id>" after the last entry looked at, "-" once the page reached the
// end), so entries still in backoff at the PEL's head cannot hide due ones behind.
// Returns {{{id, {field, value...}, delivery}...}, {dead-lettered id...}, next}.
const redis::script& claim_script();

}  // namespace sluice::deliver
