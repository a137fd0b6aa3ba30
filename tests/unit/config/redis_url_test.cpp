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

TEST_CASE("redis+sentinel:// URLs name the sentinels and the master", "[unit][config]") {
    std::string why;
    auto a = parse_redis_url(
        "redis+sentinel://app:s%3Acret@10.0.0.1:26379,10.0.0.2,[::1]:26380/"
        "mymaster?db=2",
        why);
    REQUIRE(a);
    CHECK(a->is_sentinel());
    CHECK(a->kind == redis_endpoint::transport::tcp);
    REQUIRE(a->sentinels.size() == 3);
    CHECK(a->sentinels[0].display() == "10.0.0.1:26379");
    CHECK(a->sentinels[1].display() == "10.0.0.2:26379");  // the sentinel port by default
    CHECK(a->sentinels[2].display() == "[::1]:26380");
    CHECK(a->master_name == "mymaster");
    CHECK(a->db == 2);
    // The user and password are the data nodes'.
    CHECK(a->username == "app");
    CHECK(a->password == "s:cret");
    CHECK(a->display() == "sentinel mymaster via 10.0.0.1:26379,10.0.0.2:26379,[::1]:26380");

    auto tls = parse_redis_url("rediss+sentinel://h1:26379/m", why);
    REQUIRE(tls);
    CHECK(tls->kind == redis_endpoint::transport::tls);

    CHECK_FALSE(parse_redis_url("redis+sentinel://h1:26379", why));
    CHECK_THAT(why, Catch::Contains("names the master"));
    CHECK_FALSE(parse_redis_url("redis+sentinel://h1:26379/", why));
    CHECK_THAT(why, Catch::Contains("master's name"));
    CHECK_FALSE(parse_redis_url("redis+sentinel:///m", why));
    CHECK_FALSE(parse_redis_url("redis+sentinel://h1:99999/m", why));
    CHECK_THAT(why, Catch::Contains("port"));
    CHECK_FALSE(parse_redis_url("redis+sentinel://h1/m?db=x", why));
    CHECK_FALSE(parse_redis_url("redis+cluster://h1:7000,h2:7001", why));
    CHECK_THAT(why, Catch::Contains("Cluster is not supported yet"));
}
