#include "publish/redis_problem.hpp"

#include "redis/error.hpp"

namespace sluice::publish {

redis_failure problem_for_redis_error(const boost::system::error_code& ec) {
    redis_failure f;
    if (ec == redis::error::overloaded) {
        f.problem = {503,
                     "redis_overloaded",
                     "Redis is overloaded",
                     "too many requests are waiting for Redis; retry shortly",
                     {}};
        f.retry_after_seconds = 1;
        return f;
    }
    // Lost or timed out after the request went out: Redis may have applied it.
    bool maybe_written = ec == redis::error::timeout || ec == redis::error::connection_lost;
    f.problem = {503,
                 "redis_unavailable",
                 "Redis is unavailable",
                 "the event could not be confirmed: " + ec.message() +
                     (maybe_written ? "; it may have been stored: retry with the same id and source"
                                    : "; nothing was written"),
                 {}};
    f.retry_after_seconds = ec == redis::error::timeout ? 2 : 1;
    return f;
}

}  // namespace sluice::publish
