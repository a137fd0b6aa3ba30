#include "http/router.hpp"

#include <catch2/catch.hpp>

using sluice::http::route_params;
using sluice::http::router;
using outcome = router::match_result::outcome;

TEST_CASE("the router matches literal and parameter segments", "[unit][http]") {
    router r;
    auto health = r.add("GET", "/healthz");
    auto groups = r.add("GET", "/v1/streams/{type}/groups");
    auto group = r.add("PUT", "/v1/streams/{type}/groups/{group}");
    route_params params;

    auto m = r.match("GET", "/healthz", params);
    CHECK(m.result == outcome::found);
    CHECK(m.route == health);
    CHECK(m.pattern == "/healthz");

    m = r.match("GET", "/v1/streams/user.created/groups", params);
    REQUIRE(m.result == outcome::found);
    CHECK(m.route == groups);
    CHECK(params.get("type") == "user.created");

    m = r.match("PUT", "/v1/streams/order.placed/groups/billing", params);
    REQUIRE(m.result == outcome::found);
    CHECK(m.route == group);
    CHECK(params.get("type") == "order.placed");
    CHECK(params.get("group") == "billing");
    CHECK(params.get("absent").empty());
}

TEST_CASE("unknown paths are not found, empty and extra segments do not match", "[unit][http]") {
    router r;
    r.add("GET", "/v1/streams/{type}/groups");
    route_params params;
    CHECK(r.match("GET", "/nope", params).result == outcome::not_found);
    CHECK(r.match("GET", "/v1/streams//groups", params).result == outcome::not_found);
    CHECK(r.match("GET", "/v1/streams/a/groups/extra", params).result == outcome::not_found);
    CHECK(r.match("GET", "/v1/streams/a", params).result == outcome::not_found);
    CHECK(r.match("GET", "", params).result == outcome::not_found);
}

TEST_CASE("a known path with the wrong method is 405 with every allowed method", "[unit][http]") {
    router r;
    r.add("GET", "/v1/dlq/{type}");
    r.add("DELETE", "/v1/dlq/{type}");
    route_params params;
    auto m = r.match("POST", "/v1/dlq/user.created", params);
    CHECK(m.result == outcome::method_not_allowed);
    CHECK(m.allow == "GET, HEAD, DELETE");
}

TEST_CASE("HEAD is answered by GET routes", "[unit][http]") {
    router r;
    auto i = r.add("GET", "/metrics");
    route_params params;
    auto m = r.match("HEAD", "/metrics", params);
    CHECK(m.result == outcome::found);
    CHECK(m.route == i);
}

TEST_CASE("malformed and duplicate routes are refused when added", "[unit][http]") {
    router r;
    r.add("GET", "/a/{b}");
    CHECK_THROWS_AS(r.add("GET", "/a/{b}"), std::invalid_argument);
    CHECK_THROWS_AS(r.add("GET", "no-slash"), std::invalid_argument);
    CHECK_THROWS_AS(r.add("GET", "/x{y}"), std::invalid_argument);
}
