#pragma once

#include <cstdint>
#include <vector>

#include <optional>
#include <string>

#include "redis/resp.hpp"
#include "store/entry.hpp"

namespace sluice::store {

// Stream entries out of Redis replies. Sans-I/O. Delivery skips malformed parts (never
// trusting them); replay refuses a reply with any (entries_from_xrange).

// An XRANGE reply, or one stream's entry list: [[id, [field, value, ...]], ...].
std::vector<stream_entry> entries_of(redis::reply& list);

// The entries of an XRANGE reply, or nothing when any part has another shape.
std::optional<std::vector<stream_entry>> entries_from_xrange(const redis::reply& r);

// An XREAD / XREADGROUP reply for one stream: [[key, [[id, fields], ...]]] or nil.
std::vector<stream_entry> entries_of_read(redis::reply& r);

// The claim script's reply: {{{id, fields, delivery}, ...}, {dead id, ...}, next}.
struct claimed_entry {
    stream_entry entry;
    std::uint64_t delivery = 0;
};
struct claim_result {
    std::vector<claimed_entry> claimed;
    std::vector<std::string> dead;
    std::string next = "-";  // where the next claim starts in the PEL
};
claim_result claim_result_of(redis::reply& r);

}  // namespace sluice::store
