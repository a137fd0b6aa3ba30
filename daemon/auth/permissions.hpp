#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::auth {

// What a principal may do (docs/security.md). Sans-I/O; every function is pure.
enum class action : std::uint8_t {
    publish = 1,    // POST /v1/events, per event type
    subscribe = 2,  // fan-out subscriptions, per type
    consume = 4,    // consumer groups, per type and group
    replay = 8,     // replay and dead-letter pages, per type
    admin = 16,     // groups created or moved, dead letters requeued or deleted, per type
    metrics = 32,   // /metrics and /v1/version
};
using action_set = std::uint8_t;

// "publish" -> action::publish; nothing for a name that is not an action.
std::optional<action> action_named(std::string_view name);
std::string_view name_of(action a);

// A type or group pattern: `*` matches any run of characters (dots included), every
// other character itself. "orders.*" matches "orders.placed" and "orders.eu.placed";
// "*" matches every name.
bool matches(std::string_view pattern, std::string_view name);
// Empty when `pattern` may be used, else why not (at most 256 bytes, printable ASCII).
std::string pattern_problem(std::string_view pattern);

// Some actions on some types (and, for consume, some groups: none listed means any).
struct grant {
    std::vector<std::string> types;
    std::vector<std::string> groups;
    action_set allow = 0;
};

// Who made a request, and what it may do.
struct principal {
    std::string name;  // the key's or token subject's name, for logs; never a secret
    std::vector<grant> grants;
    std::int64_t expires_at = 0;  // unix seconds after which it is no longer valid; 0: never
    double publish_rate = 0;      // its own publish limit (events/s); 0: the default

    // `a` on `type` (and `group`, for consume). For metrics, `type` is ignored.
    bool may(action a, std::string_view type = {}, std::string_view group = {}) const;
};

}  // namespace sluice::auth
