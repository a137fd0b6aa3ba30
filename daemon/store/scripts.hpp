#pragma once

#include "redis/script.hpp"

namespace sluice::store {

// Every Lua script the store runs. Each touches the keys of one type only, so it runs
// on that type's slot (store/keys.hpp).

// Appends an event unless its idempotency key exists.
//   KEYS[1] stream, KEYS[2] idempotency key
//   ARGV[1] idempotency window in ms, ARGV[2..] field, value, field, value...
// Returns {1, entry id} when stored, {0, first entry id} for a repeat.
const redis::script& append_script();

// Takes over entries of a group that are due for redelivery, and dead-letters those
// that used up their deliveries, in one atomic step.
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

// Moves dead letters back onto their source stream: each one's fields without the
// `dlq_` ones (docs/storage.md) become a new entry, and the dead letter is deleted,
// all in one script, so a requeue is never half done.
//   KEYS[1] the dead-letter stream, KEYS[2] the source stream
//   ARGV[1] "ids": ARGV[3..] the dead-letter entry ids to requeue (<ms>-<seq>)
//           "all": ARGV[3] the XRANGE start ("-", or "(" .. id to read after an id)
//   ARGV[2] at most this many dead letters per call (bounds how long Redis blocks)
// Returns {{dlq id, new id, ...}, {missing ids...}, dead letters examined, last id
// examined or ""}. A dead letter holding no event fields is reported as missing and
// left in place.
const redis::script& requeue_script();

// Deletes the dead-letter stream.  KEYS[1] the dead-letter stream.
// Returns how many dead letters it held.
const redis::script& clear_dead_letters_script();

// XINFO GROUPS has no COUNT, and anyone who may create groups can create many, so
// groups are listed by a script that returns only the first ones (in name order,
// XINFO's order) and how many there are in all:
//   KEYS[1] the stream; ARGV[1] at most this many groups
// Returns {total, group, group, ...}, each group as XINFO GROUPS gives it, or XINFO's
// error reply (no such key).
const redis::script& list_groups_script();

// Trims a stream by length and age, never past an entry a consumer group still needs
// (undelivered or pending) unless told to; see the script's own comment for its
// arguments. Returns {entries trimmed, group, id it needs, ...} for every group that
// held the cutoff back.
const redis::script& trim_script();

}  // namespace sluice::store
