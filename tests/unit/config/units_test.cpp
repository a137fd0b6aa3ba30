#include "config/units.hpp"

#include <catch2/catch.hpp>

#include "config/listen_address.hpp"

using namespace sluice::config;
using namespace std::chrono_literals;

TEST_CASE("durations need a unit", "[unit][config]") {
    CHECK(parse_duration("250ms") == 250ms);
    CHECK(parse_duration("10s") == 10s);
    CHECK(parse_duration("5m") == 5min);
    CHECK(parse_duration("1h") == 1h);
    CHECK(parse_duration("7d") == 168h);
    CHECK_FALSE(parse_duration("10"));
    CHECK_FALSE(parse_duration("10 s"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("99999999999999999999h"));
}

TEST_CASE("sizes take bytes or binary and decimal units", "[unit][config]") {
    CHECK(parse_size("1048576") == 1048576u);
    CHECK(parse_size("512B") == 512u);
    CHECK(parse_size("64KiB") == 65536u);
    CHECK(parse_size("1MiB") == 1048576u);
    CHECK(parse_size("2GiB") == 2147483648u);
    CHECK(parse_size("1KB") == 1000u);
    CHECK_FALSE(parse_size("1 MiB"));
    CHECK_FALSE(parse_size("1mb"));
    CHECK_FALSE(parse_size("MiB"));
    CHECK_FALSE(parse_size("99999999999999999GiB"));
}

TEST_CASE("listen addresses are host:port", "[unit][config]") {
    auto a = parse_host_port("0.0.0.0:8080");
    REQUIRE(a);
    CHECK(a->host == "0.0.0.0");
    CHECK(a->port == 8080);
    auto b = parse_host_port("[::1]:0");
    REQUIRE(b);
    CHECK(b->host == "::1");
    CHECK(b->port == 0);
    auto c = parse_host_port(":9000");
    REQUIRE(c);
    CHECK(c->host == "0.0.0.0");
    CHECK_FALSE(parse_host_port("8080"));
    CHECK_FALSE(parse_host_port("::1:8080"));
    CHECK_FALSE(parse_host_port("host:65536"));
    CHECK_FALSE(parse_host_port("host:"));
}
