#pragma once

#include <cstdint>
#include <vector>

#include "deliver/event_json.hpp"
#include "redis/resp.hpp"

namespace sluice::deliver {

// Stream entries out of Redis replies. Malformed parts are skipped, never trusted.

// An XRANGE reply, or one stream's entry list: [[id, [field, value, ...]], ...].
std::vector<stream_entry> entries_of(redis::reply& list);

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

}  // namespace sluice::deliver
