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
    // Trim even what consumer groups have not acknowledged. Off unless the operator
    // says so: it loses events that groups were still to process.
    bool unsafe = false;
    // A group that holds back trimming with an entry older than this is reported
    // (log and metric) as idle.
    std::chrono::milliseconds idle_group_after{3'600'000};
};

}  // namespace sluice::registry
