#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

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

    // Delivery to consumer groups.
    struct delivery_policy {
        // An event not acked this long after its delivery is delivered again; a
        // subscription may ask for less. Also how long the events a dead broker had
        // handed out wait before another instance takes them over.
        std::chrono::milliseconds ack_timeout{30'000};
        // Deliveries before an event moves to the dead-letter stream.
        unsigned max_deliveries = 5;
        // Wait before redelivery n (n >= 2): retry_backoff * 2^(n-2), at most
        // retry_backoff_max (after an ack timeout, on top of it).
        std::chrono::milliseconds retry_backoff{1000};
        std::chrono::milliseconds retry_backoff_max{60'000};
        // Per-group overrides of max_deliveries.
        std::map<std::string, unsigned> group_max_deliveries;

        unsigned max_deliveries_for(const std::string& group) const {
            auto it = group_max_deliveries.find(group);
            return it == group_max_deliveries.end() ? max_deliveries : it->second;
        }
    } delivery;
};

}  // namespace sluice::registry
