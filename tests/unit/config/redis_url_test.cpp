#include "config/redis_url.hpp"

#include <catch2/catch.hpp>

using namespace sluice::config;

TEST_CASE("redis:// URLs", "[unit][config]") {
    std::string why;
    auto a = parse_redis_url("redis://127.0.0.1:6379/0", why);
    REQUIRE(a);
    CHECK(a->kind == redis_endpoint::transport::tcp);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 6379);
    CHECK(a->db == 0);
    CHECK(a->password.empty());

    auto b = parse_redis_url("redis://user:p%40ss@cache", why);
    REQUIRE(b);
    CHECK(b->username == "user");
    CHECK(b->password == "p@ss");
    CHECK(b->port == 6379);

    auto c = parse_redis_url("redis://:onlypass@[::1]:7000/15", why);
    REQUIRE(c);
    CHECK(c->username.empty());
    CHECK(c->password == "onlypass");
    CHECK(c->host == "::1");
    CHECK(c->port == 7000);
    CHECK(c->db == 15);
    CHECK(c->display() == "::1:7000");
}

TEST_CASE("rediss:// and unix:// URLs", "[unit][config]") {
    std::string why;
    auto t = parse_redis_url("rediss://redis.example:6380", why);
    REQUIRE(t);
    CHECK(t->kind == redis_endpoint::transport::tls);
    CHECK(t->display() == "tls:redis.example:6380");

    auto u = parse_redis_url("unix:///var/run/redis/redis.sock?db=2", why);
    REQUIRE(u);
    CHECK(u->kind == redis_endpoint::transport::unix_socket);
    CHECK(u->path == "/var/run/redis/redis.sock");
    CHECK(u->db == 2);

    auto v = parse_redis_url("unix://app:pw@/tmp/r.sock", why);
    REQUIRE(v);
    CHECK(v->username == "app");
    CHECK(v->path == "/tmp/r.sock");
}

TEST_CASE("malformed redis URLs say what is wrong", "[unit][config]") {
    std::string why;
    CHECK_FALSE(parse_redis_url("http://h", why));
    CHECK_THAT(why, Catch::Matchers::Contains("unsupported scheme"));
    CHECK_FALSE(parse_redis_url("redis://h:99999", why));
    CHECK_THAT(why, Catch::Matchers::Contains("port"));
    CHECK_FALSE(parse_redis_url("redis://h/x", why));
    CHECK_THAT(why, Catch::Matchers::Contains("database number"));
    CHECK_FALSE(parse_redis_url("redis://", why));
    CHECK_THAT(why, Catch::Matchers::Contains("no host"));
    CHECK_FALSE(parse_redis_url("unix://relative.sock", why));
    CHECK_FALSE(parse_redis_url("redis://u:%zz@h", why));
    CHECK_THAT(why, Catch::Matchers::Contains("percent-encoding"));
}
