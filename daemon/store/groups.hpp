#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/resp.hpp"

namespace sluice::store {

// Consumer groups as Redis describes them (XINFO GROUPS, XINFO CONSUMERS, XPENDING,
// TIME replies, RESP2). Sans-I/O.

struct consumer_info {
    std::string name;
    long long pending = 0;  // entries it holds, delivered and not acknowledged
    long long idle_ms = 0;  // since its last read or claim
};

struct group_info {
    std::string name;
    long long consumers = 0;
    long long pending = 0;
    std::optional<long long> lag;  // entries not yet delivered; unknown (nil) after some SETIDs
    std::string last_delivered;
    std::optional<std::string> oldest_pending;  // the smallest pending entry id, if any
    std::vector<consumer_info> consumer_list;
};

// The groups of an XINFO GROUPS reply, or nothing when it has another shape.
std::optional<std::vector<group_info>> groups_from_xinfo(const redis::reply& r);

// The groups are listed by store/scripts.hpp's list_groups_script.

// What one group costs in that reply at most (as the decoder charges it: 12 strings
// and integers, a name of up to 128 bytes): bounds how many are asked for.
inline constexpr std::size_t group_reply_bytes = 512;
// Most groups one listing reads per type, whatever the reply cap allows.
inline constexpr std::size_t max_groups_per_type = 1000;

// How many groups a listing asks for: as many as fit in half of `max_reply_bytes` at
// group_reply_bytes each, at least 1 and at most max_groups_per_type.
std::size_t groups_to_list(std::size_t max_reply_bytes);

// The groups of a list_groups_script reply, and in `total` how many the stream has;
// nothing when the reply has another shape.
std::optional<std::vector<group_info>> groups_from_listing(const redis::reply& r, long long& total);

// Fills `g.consumer_list` from an XINFO CONSUMERS reply. False on another shape.
bool read_consumers(const redis::reply& r, group_info& g);

// Fills `g.oldest_pending` from an XPENDING summary reply (count, smallest id, largest
// id, per consumer). False on another shape.
bool read_pending_summary(const redis::reply& r, group_info& g);

// Milliseconds since the Unix epoch from a TIME reply; nothing on another shape.
std::optional<std::uint64_t> ms_from_time(const redis::reply& r);

// What the XINFO CONSUMERS and XPENDING replies of a group may cost at most, by its
// consumer count: the groups endpoint splits its pipelined requests by this.
inline std::size_t group_details_bytes(const group_info& g) {
    return 512 + 512 * static_cast<std::size_t>(std::max(0LL, g.consumers));
}

}  // namespace sluice::store
