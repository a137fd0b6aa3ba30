#include "streams/pages.hpp"

#include <catch2/catch.hpp>

#include "support/replies.hpp"

using namespace sluice;
using namespace sluice::streams;
using kind = redis::reply::kind;
using namespace sluice::test;

TEST_CASE("XRANGE replies become stream entries, other shapes are refused", "[unit][streams]") {
    std::vector<redis::reply> items;
    items.push_back(entry("1-0", {"id", "a", "data", "{}"}));
    items.push_back(entry("1-1", {"id", "b"}));
    auto entries = entries_from_xrange(array(std::move(items)));
    REQUIRE(entries);
    REQUIRE(entries->size() == 2);
    CHECK((*entries)[0].id == "1-0");
    CHECK((*entries)[0].field("data") == "{}");
    CHECK((*entries)[1].field("id") == "b");
    CHECK(entries_from_xrange(array({}))->empty());
    CHECK_FALSE(entries_from_xrange(str("1-0")));
    std::vector<redis::reply> odd;
    odd.push_back(entry("1-0", {"id"}));
    CHECK_FALSE(entries_from_xrange(array(std::move(odd))));
}

TEST_CASE("the next page starts just after the last entry", "[unit][streams]") {
    CHECK(id_after("5-0") == "5-1");
    CHECK(id_after("5-18446744073709551615") == "6-0");
    CHECK(id_after("nope").empty());
}

TEST_CASE("a replay page holds each entry and its CloudEvent, next only when full",
          "[unit][streams]") {
    std::vector<deliver::stream_entry> entries(2);
    entries[0].id = "7-0";
    entries[0].fields = {
        {"specversion", "1.0"}, {"id", "a\"1"}, {"version", "2"}, {"data", R"({"x":1})"}};
    entries[1].id = "7-1";
    entries[1].fields = {{"id", "b"}, {"data", "[]"}};
    CHECK(replay_page_json("user.created", entries, 2) ==
          R"({"type":"user.created","events":[)"
          R"({"entry":"7-0","event":{"specversion":"1.0","id":"a\"1","version":2,"data":{"x":1}}},)"
          R"({"entry":"7-1","event":{"id":"b","data":[]}}],"next":"7-2"})");
    CHECK(replay_page_json("t", entries, 3).ends_with(R"(,"next":null})"));
    CHECK(replay_page_json("t", {}, 1) == R"({"type":"t","events":[],"next":null})");
}

TEST_CASE("a dead-letter page splits Sluice's fields from the event", "[unit][streams]") {
    std::vector<deliver::stream_entry> entries(2);
    entries[0].id = "9-0";
    entries[0].fields = {{"id", "e1"},
                         {"data", "{}"},
                         {"dlq_entry", "3-1"},
                         {"dlq_group", "billing"},
                         {"dlq_deliveries", "5"},
                         {"dlq_reason", "ack deadline passed"},
                         {"dlq_time", "2026-11-27T10:00:00.000Z"}};
    entries[1].id = "9-1";
    entries[1].fields = {{"id", "e2"}, {"data", "{}"}, {"dlq_deliveries", "many"}};
    CHECK(dead_letter_page_json("t", entries, 2) ==
          R"({"type":"t","dead_letters":[)"
          R"({"dlq_entry":"9-0","entry":"3-1","group":"billing","deliveries":5,)"
          R"("reason":"ack deadline passed","time":"2026-11-27T10:00:00.000Z",)"
          R"("event":{"id":"e1","data":{}}},)"
          R"({"dlq_entry":"9-1","entry":null,"group":null,"deliveries":null,"reason":null,)"
          R"("time":null,"event":{"id":"e2","data":{}}}],"next":"9-2"})");
}
