#include <catch2/catch.hpp>

#include "auth/rate_limiter.hpp"

using namespace sluice::auth;
using namespace std::chrono_literals;

TEST_CASE("a token bucket lets a burst through, then its rate", "[auth]") {
    auto t0 = token_bucket::clock::time_point{} + 1h;
    token_bucket b(10, 5, t0);
    for (int i = 0; i < 5; ++i) CHECK_FALSE(b.take(1, t0));
    auto wait = b.take(1, t0);
    REQUIRE(wait);
    CHECK(*wait == 100ms);
    CHECK_FALSE(b.take(1, t0 + 100ms));
    CHECK(b.take(1, t0 + 100ms));
    // A batch larger than the burst passes once the bucket is full.
    CHECK(b.take(50, t0 + 200ms));
    CHECK_FALSE(b.take(50, t0 + 700ms));
    CHECK_FALSE(b.idle_since(t0 + 700ms, 1s));
    CHECK(b.idle_since(t0 + 2s, 1s));
    CHECK(retry_after_seconds(100ms) == 1);
    CHECK(retry_after_seconds(2500ms) == 3);
}

TEST_CASE("a rate limiter keeps a bucket per key, and a bounded number of keys", "[auth]") {
    auto t0 = token_bucket::clock::time_point{} + 1h;
    rate_limiter r(64);
    CHECK_FALSE(r.take("a", 1, 1, 1, t0));
    CHECK(r.take("a", 1, 1, 1, t0));
    CHECK_FALSE(r.take("b", 1, 1, 1, t0));
    // Thousands of keys minted at once: past the cap they share one bucket.
    int allowed = 0;
    for (int i = 0; i < 5000; ++i)
        if (!r.take("k" + std::to_string(i), 1, 1, 1, t0)) ++allowed;
    CHECK(allowed < 200);
    // Later, idle full buckets are forgotten and new keys get their own again.
    CHECK_FALSE(r.take("fresh", 1, 1, 1, t0 + 10s));
}
