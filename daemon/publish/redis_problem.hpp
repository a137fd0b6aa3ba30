#pragma once

#include <boost/system/error_code.hpp>

#include "http/problem.hpp"

namespace sluice::publish {

// The HTTP answer to a Redis request that got no reply: 503 with a stable code
// (`redis_overloaded` when our own queue is full, `redis_unavailable` otherwise) and
// the number of seconds after which a retry makes sense, for `Retry-After`.
struct redis_failure {
    http::problem problem;
    unsigned retry_after_seconds = 1;
};

redis_failure problem_for_redis_error(const boost::system::error_code& ec);

}  // namespace sluice::publish
