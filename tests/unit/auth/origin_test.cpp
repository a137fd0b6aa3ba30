#include <catch2/catch.hpp>

#include "auth/origin.hpp"

using sluice::auth::origin_allowed;
using sluice::auth::origin_entry_problem;

TEST_CASE("WebSocket origins: the broker's own unless listed, wildcards for subdomains", "[auth]") {
    CHECK(origin_allowed("", "broker:8080", {}));
    CHECK(origin_allowed("http://broker:8080", "broker:8080", {}));
    CHECK(origin_allowed("HTTPS://Broker:8080", "broker:8080", {}));
    CHECK_FALSE(origin_allowed("http://evil:8080", "broker:8080", {}));
    CHECK_FALSE(origin_allowed("http://broker", "broker:8080", {}));
    CHECK_FALSE(origin_allowed("null", "broker:8080", {}));
    CHECK_FALSE(origin_allowed("not an origin", "broker:8080", {}));

    std::vector<std::string> list{"https://app.example.com", "https://*.example.org:8443", "null"};
    CHECK(origin_allowed("https://app.example.com", "x", list));
    CHECK(origin_allowed("https://APP.example.com", "x", list));
    CHECK_FALSE(origin_allowed("http://app.example.com", "x", list));
    CHECK_FALSE(origin_allowed("https://app.example.com:444", "x", list));
    CHECK(origin_allowed("https://a.example.org:8443", "x", list));
    CHECK(origin_allowed("https://a.b.example.org:8443", "x", list));
    CHECK_FALSE(origin_allowed("https://example.org:8443", "x", list));
    CHECK_FALSE(origin_allowed("https://a.example.org", "x", list));
    CHECK_FALSE(origin_allowed("https://evilexample.org:8443", "x", list));
    CHECK(origin_allowed("null", "x", list));

    CHECK(origin_entry_problem("https://app.example.com").empty());
    CHECK(origin_entry_problem("https://*.example.com").empty());
    CHECK(origin_entry_problem("null").empty());
    CHECK_FALSE(origin_entry_problem("app.example.com").empty());
    CHECK_FALSE(origin_entry_problem("https://app.example.com/path").empty());
    CHECK_FALSE(origin_entry_problem("https://a*.example.com").empty());
}
