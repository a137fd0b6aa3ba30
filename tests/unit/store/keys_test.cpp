#include "store/keys.hpp"

#include <catch2/catch.hpp>

using namespace sluice::store;

TEST_CASE("keys of one type share its hash tag, idempotency keys cannot collide", "[unit][store]") {
    CHECK(stream_key("user.created") == "sluice:{user.created}:events");
    CHECK(dead_letter_key("user.created") == "sluice:{user.created}:dlq");
    auto k = idempotency_key("user.created", "/svc", "42");
    CHECK(k.starts_with("sluice:{user.created}:idem:"));
    CHECK(k.size() == std::string("sluice:{user.created}:idem:").size() + 40);
    CHECK(idempotency_key("t", "a\nb", "c") != idempotency_key("t", "a", "b\nc"));
    CHECK(idempotency_key("t", "ab", "c") != idempotency_key("t", "a", "bc"));
    CHECK(idempotency_key("t", "/svc", "42") == idempotency_key("t", "/svc", "42"));
}
