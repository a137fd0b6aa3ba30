#pragma once

#include <string>
#include <utility>
#include <vector>

#include "redis/resp.hpp"

namespace sluice::store {

// The replies of store/scripts.hpp's requeue_script.

// What one requeue call did.
struct requeue_result {
    std::vector<std::pair<std::string, std::string>> requeued;  // dlq entry id, new entry id
    std::vector<std::string> missing;
    long long examined = 0;  // with "all": dead letters read by the call
    std::string last;        // with "all": the last one read
};

// Appends what the script's reply says to `out`. False when the reply has another shape.
bool read_requeue_reply(const redis::reply& r, requeue_result& out);

}  // namespace sluice::store
