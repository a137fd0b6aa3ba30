#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/groups.hpp"

namespace sluice::streams {

// {"type":..., "groups":[{"name","consumers":{"count","list":[{"name","pending",
// "idle_ms"}]},"pending","lag","last_delivered","age_ms"}, ...]}; `age_ms` is `now_ms`
// minus the time in the oldest pending entry's id (0 at least), null when none pends.
// Where a page of groups sits in the listing by name: `next` (the last listed name)
// when more groups follow, and `total` (the stream's groups in all) whenever the page
// is not the whole listing.
struct group_page {
    std::string next;
    long long total = -1;
};
// When more groups follow, the answer ends with
// "truncated":true,"total":<total>,"next":"<name>": ask again with ?after=<name>.
std::string groups_json(std::string_view type, const std::vector<store::group_info>& groups,
                        std::uint64_t now_ms, const group_page& page = {});

}  // namespace sluice::streams
