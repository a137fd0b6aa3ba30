#include "store/problem.hpp"

#include <catch2/catch.hpp>

#include "redis/error.hpp"

using namespace sluice;

TEST_CASE("Redis failures become 503 problems with a stable code and a retry hint",
          "[unit][store]") {
    auto full = store::problem_for_redis_error(redis::error::overloaded);
    CHECK(full.problem.status == 503);
    CHECK(full.problem.code == "redis_overloaded");
    CHECK(full.retry_after_seconds == 1);

    auto down = store::problem_for_redis_error(redis::error::not_connected);
    CHECK(down.problem.status == 503);
    CHECK(down.problem.code == "redis_unavailable");
    CHECK_THAT(down.problem.detail, Catch::Matchers::Contains("not connected to Redis"));
    CHECK_THAT(down.problem.detail, Catch::Matchers::Contains("nothing was written"));
    CHECK_THAT(store::problem_for_redis_error(redis::error::connection_lost).problem.detail,
               Catch::Matchers::Contains("retry with the same id"));

    auto slow = store::problem_for_redis_error(redis::error::timeout);
    CHECK(slow.problem.code == "redis_unavailable");
    CHECK(slow.retry_after_seconds == 2);
}

TEST_CASE("a reply over the cap is a 502 that names the cap, with no retry hint", "[unit][store]") {
    auto big = store::problem_for_redis_error(
        redis::error::reply_too_large,
        "Redis's reply was not read: a reply of 2000000 bytes, over redis.max_reply_bytes "
        "(1048576)");
    CHECK(big.problem.status == 502);
    CHECK(big.problem.code == "redis_reply_too_large");
    CHECK_THAT(big.problem.detail, Catch::Matchers::Contains("2000000 bytes"));
    CHECK_THAT(big.problem.detail, Catch::Matchers::Contains("raise redis.max_reply_bytes"));
    CHECK(big.retry_after_seconds == 0);
    // Without the detail, the error's own words still name the setting.
    CHECK_THAT(store::problem_for_redis_error(redis::error::reply_too_large).problem.detail,
               Catch::Matchers::Contains("redis.max_reply_bytes"));
}
