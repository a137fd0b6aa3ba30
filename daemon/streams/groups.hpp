#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/resp.hpp"

namespace sluice::streams {

// Consumer groups as Redis describes them (XINFO GROUPS, XINFO CONSUMERS, XPENDING,
// TIME replies, RESP2) and the JSON of GET /v1/streams/{type}/groups. Sans-I/O.

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

// Fills `g.consumer_list` from an XINFO CONSUMERS reply. False on another shape.
bool read_consumers(const redis::reply& r, group_info& g);

// Fills `g.oldest_pending` from an XPENDING summary reply (count, smallest id, largest
// id, per consumer). False on another shape.
bool read_pending_summary(const redis::reply& r, group_info& g);

// Milliseconds since the Unix epoch from a TIME reply; nothing on another shape.
std::optional<std::uint64_t> ms_from_time(const redis::reply& r);

// {"type":..., "groups":[{"name","consumers":{"count","list":[{"name","pending",
// "idle_ms"}]},"pending","lag","last_delivered","age_ms"}, ...]}; `age_ms` is `now_ms`
// minus the time in the oldest pending entry's id (0 at least), null when none pends.
std::string groups_json(std::string_view type, const std::vector<group_info>& groups,
                        std::uint64_t now_ms);

}  // namespace sluice::streams
