#include "streams/groups.hpp"

#include <catch2/catch.hpp>

#include "support/replies.hpp"

using namespace sluice;
using namespace sluice::streams;
using namespace sluice::store;
using kind = redis::reply::kind;
using namespace sluice::test;

TEST_CASE("XINFO GROUPS replies (Redis 7, RESP2) become groups, nil lag stays unknown",
          "[unit][streams]") {
    auto reply = list(
        list(str("name"), str("billing"), str("consumers"), num(1), str("pending"), num(3),
             str("last-delivered-id"), str("5-2"), str("entries-read"), num(3), str("lag"), num(2)),
        list(str("name"), str("audit"), str("consumers"), num(0), str("pending"), num(0),
             str("last-delivered-id"), str("4-0"), str("entries-read"), nil(), str("lag"), nil()));
    auto groups = groups_from_xinfo(reply);
    REQUIRE(groups);
    REQUIRE(groups->size() == 2);
    CHECK((*groups)[0].name == "billing");
    CHECK((*groups)[0].consumers == 1);
    CHECK((*groups)[0].pending == 3);
    CHECK((*groups)[0].last_delivered == "5-2");
    CHECK((*groups)[0].lag == 2);
    CHECK_FALSE((*groups)[1].lag);
    CHECK_FALSE(groups_from_xinfo(str("x")));
    CHECK_FALSE(groups_from_xinfo(list(list(str("name")))));
}

TEST_CASE("consumers and the oldest pending entry complete a group, then its JSON",
          "[unit][streams]") {
    group_info g;
    g.name = "billing";
    g.consumers = 1;
    g.pending = 3;
    g.lag = 2;
    g.last_delivered = "1000-2";
    REQUIRE(read_consumers(list(list(str("name"), str("c1"), str("pending"), num(3), str("idle"),
                                     num(42), str("inactive"), num(42))),
                           g));
    REQUIRE(read_pending_summary(
        list(num(3), str("1000-0"), str("1000-2"), list(list(str("c1"), str("3")))), g));
    CHECK(g.oldest_pending == "1000-0");
    auto now = ms_from_time(list(str("1"), str("500999")));
    REQUIRE(now);
    CHECK(*now == 1500);
    CHECK(groups_json("user.created", {g}, *now) ==
          R"({"type":"user.created","groups":[{"name":"billing","consumers":{"count":1,"list":[)"
          R"({"name":"c1","pending":3,"idle_ms":42}]},"pending":3,"lag":2,)"
          R"("last_delivered":"1000-2","age_ms":500}]})");

    // Nothing pending: no age; an unknown lag is null; a clock behind the id gives 0.
    REQUIRE(read_pending_summary(list(num(0), nil(), nil(), nil()), g));
    g.lag.reset();
    g.consumer_list.clear();
    CHECK_THAT(
        groups_json("t", {g}, 1500),
        Catch::Matchers::EndsWith(R"("lag":null,"last_delivered":"1000-2","age_ms":null}]})"));
    g.oldest_pending = "2000-0";
    CHECK_THAT(groups_json("t", {g}, 1500), Catch::Matchers::Contains(R"("age_ms":0)"));
    CHECK(groups_json("t", {}, 0) == R"({"type":"t","groups":[]})");
    CHECK_FALSE(read_consumers(str("x"), g));
    CHECK_FALSE(read_pending_summary(num(0), g));
    CHECK_FALSE(ms_from_time(list(str("x"), str("1"))));
}

TEST_CASE("a group listing holds the first groups and how many there are in all",
          "[unit][streams]") {
    auto reply = list(num(5000), list(str("name"), str("a"), str("consumers"), num(0),
                                      str("pending"), num(0), str("last-delivered-id"), str("0-0"),
                                      str("entries-read"), nil(), str("lag"), nil()));
    long long total = 0;
    auto groups = groups_from_listing(reply, total);
    REQUIRE(groups);
    CHECK(total == 5000);
    REQUIRE(groups->size() == 1);
    CHECK((*groups)[0].name == "a");
    CHECK_FALSE(groups_from_listing(list(str("x")), total));
    CHECK_FALSE(groups_from_listing(list(), total));
    // As many as fit in half the reply cap, within 1..1000.
    CHECK(groups_to_list(64 * 1024) == 64);
    CHECK(groups_to_list(1024) == 1);
    CHECK(groups_to_list(64 * 1024 * 1024) == 1000);
}
