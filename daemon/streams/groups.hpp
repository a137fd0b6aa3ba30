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
// When the stream has more groups than listed (`total` above the list's size), the
// answer ends with "truncated":true,"total":<total>.
std::string groups_json(std::string_view type, const std::vector<store::group_info>& groups,
                        std::uint64_t now_ms, long long total = -1);

}  // namespace sluice::streams
