#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>

#include "http/problem.hpp"
#include "store/result.hpp"

namespace sluice::store {

// The HTTP answer to a Redis request that got no reply: 503 with a stable code
// (`redis_overloaded` when our own queue is full, `redis_unavailable` otherwise) and
// the number of seconds after which a retry makes sense, for `Retry-After`; or 502
// `redis_reply_too_large` when Redis answered more than redis.max_reply_bytes, which
// no retry changes (retry_after_seconds 0: send no Retry-After). `why` is what came
// with the error (the reply's `str` for reply_too_large: the size and the cap).
struct redis_failure {
    http::problem problem;
    unsigned retry_after_seconds = 1;
};

redis_failure problem_for_redis_error(const boost::system::error_code& ec,
                                      std::string_view why = {});

// The HTTP answer to a reply that is an error or not of the expected shape: 503 when
// Redis says "not now" (out of memory, loading, a failover...), with `effect` saying
// what became of the request; else 500, logged with `what` (the command) and `type`:
// a bug, or a key of the wrong type.
redis_failure problem_for_redis_reply(const redis::reply& r, std::string_view what,
                                      std::string_view effect, std::string_view type);

// The answer to a failed store operation: problem_for_redis_error for no reply (its
// detail "Redis did not answer: ...; <effect>" unless the reply was too large), else
// problem_for_redis_reply with the failure's op.
redis_failure problem_for(const failure& f, std::string_view effect, std::string_view type);

}  // namespace sluice::store
