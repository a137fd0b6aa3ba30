#pragma once

#include <chrono>
#include <cstdint>

#include "registry/compatibility.hpp"

namespace sluice::registry {

// What the operator decided for one event type (config `types.<type>` or
// `type_defaults`).
struct type_policy {
    unsigned default_version = 0;  // version used when a publisher names none; 0: the latest
    compatibility mode = compatibility::backward;
    std::uint64_t max_length = 0;          // retention by length; 0: no limit
    std::chrono::milliseconds max_age{0};  // retention by age; 0: no limit
};

}  // namespace sluice::registry
