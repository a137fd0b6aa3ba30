#include "redis/topology.hpp"

#include <catch2/catch.hpp>

using namespace sluice::redis;

namespace {

reply bulk(std::string s) {
    return reply{reply::kind::string, std::move(s), 0, {}};
}
reply array(std::vector<reply> items) {
    return reply{reply::kind::array, {}, 0, std::move(items)};
}

}  // namespace

TEST_CASE("topology: ROLE's first element says what the node is", "[unit][redis]") {
    CHECK(role_of(array({bulk("master"), reply{reply::kind::integer, {}, 5, {}}, array({})})) ==
          node_role::master);
    CHECK(role_of(array({bulk("slave"), bulk("127.0.0.1"),
                         reply{reply::kind::integer, {}, 6379, {}}})) == node_role::replica);
    CHECK(role_of(array({bulk("sentinel"), array({bulk("mymaster")})})) == node_role::sentinel);
    CHECK(role_of(array({})) == node_role::unknown);
    CHECK(role_of(reply{reply::kind::error, "NOPERM", 0, {}}) == node_role::unknown);
    CHECK(role_of(bulk("master")) == node_role::unknown);
}

TEST_CASE("topology: the sentinel's answer for the master's address", "[unit][redis]") {
    auto a = master_address_of(array({bulk("10.0.0.5"), bulk("6380")}));
    REQUIRE(a);
    CHECK(a->host == "10.0.0.5");
    CHECK(a->port == 6380);
    CHECK(a->display() == "10.0.0.5:6380");
    CHECK(master_address_of(array({bulk("::1"), bulk("7000")}))->display() == "[::1]:7000");
    CHECK_FALSE(master_address_of(reply{}));  // nil: the sentinel knows no such master
    CHECK_FALSE(master_address_of(array({bulk("h")})));
    CHECK_FALSE(master_address_of(array({bulk("h"), bulk("0")})));
    CHECK_FALSE(master_address_of(array({bulk("h"), bulk("70000")})));
    CHECK_FALSE(master_address_of(array({bulk("h"), bulk("12x")})));
    CHECK_FALSE(master_address_of(array({bulk(""), bulk("6379")})));
}

TEST_CASE("topology: a sentinel is reached with the sentinels' credentials", "[unit][redis]") {
    endpoint nodes;
    nodes.kind = endpoint::transport::tls;
    nodes.username = "app";
    nodes.password = "node-secret";
    nodes.db = 3;
    nodes.sentinel_username = "watcher";
    nodes.sentinel_password = "sentinel-secret";
    auto s = sentinel_endpoint(nodes, {"10.0.0.9", 26380});
    CHECK(s.kind == endpoint::transport::tls);
    CHECK(s.host == "10.0.0.9");
    CHECK(s.port == 26380);
    CHECK(s.username == "watcher");
    CHECK(s.password == "sentinel-secret");
    CHECK(s.db == 0);
    CHECK_FALSE(s.is_sentinel());
}
