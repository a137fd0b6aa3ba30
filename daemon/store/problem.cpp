#include "store/problem.hpp"

#include "log/logger.hpp"
#include "redis/error.hpp"
#include "redis/resp.hpp"

namespace sluice::store {

redis_failure problem_for_redis_error(const boost::system::error_code& ec, std::string_view why) {
    redis_failure f;
    if (ec == redis::error::reply_too_large) {
        f.problem = {502,
                     "redis_reply_too_large",
                     "Redis reply too large",
                     (why.empty() ? ec.message() : std::string(why)) +
                         "; ask for less (a smaller limit), or raise redis.max_reply_bytes",
                     {}};
        f.retry_after_seconds = 0;
        return f;
    }
    if (ec == redis::error::not_replicated) {
        f.problem = {503,
                     "not_replicated",
                     "Not replicated",
                     "Redis applied it on the master, but fewer replicas than "
                     "publish.min_replicas confirmed it within publish.replica_timeout, so a "
                     "failover could undo it",
                     {}};
        f.retry_after_seconds = 1;
        return f;
    }
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

redis_failure problem_for_redis_reply(const redis::reply& r, std::string_view what,
                                      std::string_view effect, std::string_view type) {
    redis_failure f;
    if (r.is_transient_error()) {
        f.problem = {503,
                     "redis_unavailable",
                     "Redis is unavailable",
                     "Redis refused " + std::string(what) + " for now (" +
                         r.str.substr(0, r.str.find(' ')) + "); " + std::string(effect),
                     {}};
        return f;
    }
    log::error("unexpected Redis reply", {{"command", what}, {"type", type}, {"reply", r.str}});
    f.problem = {500,
                 "internal_error",
                 "Internal server error",
                 "Redis answered " + std::string(what) + " unexpectedly; see the server log",
                 {}};
    return f;
}

redis_failure problem_for(const failure& f, std::string_view effect, std::string_view type) {
    if (f.what == failure::kind::no_reply) {
        auto out = problem_for_redis_error(f.ec, f.text);
        if (f.ec == redis::error::not_replicated)
            out.problem.detail += "; " + std::string(effect);
        else if (f.ec != redis::error::reply_too_large)
            out.problem.detail =
                "Redis did not answer: " + f.ec.message() + "; " + std::string(effect);
        return out;
    }
    redis::reply r;
    r.type = f.text.empty() ? redis::reply::kind::nil : redis::reply::kind::error;
    r.str = f.text;
    return problem_for_redis_reply(r, f.op, effect, type);
}

}  // namespace sluice::store
