#include "streams/pages.hpp"

#include <catch2/catch.hpp>

#include "support/replies.hpp"

using namespace sluice;
using namespace sluice::streams;
using kind = redis::reply::kind;
using namespace sluice::test;

TEST_CASE("the next page starts just after the last entry", "[unit][streams]") {
    CHECK(id_after("5-0") == "5-1");
    CHECK(id_after("5-18446744073709551615") == "6-0");
    CHECK(id_after("nope").empty());
}

TEST_CASE("a replay page holds each entry and its CloudEvent, next only when cut",
          "[unit][streams]") {
    std::vector<deliver::stream_entry> entries(2);
    entries[0].id = "7-0";
    entries[0].fields = {
        {"specversion", "1.0"}, {"id", "a\"1"}, {"version", "2"}, {"data", R"({"x":1})"}};
    entries[1].id = "7-1";
    entries[1].fields = {{"id", "b"}, {"data", "[]"}};
    CHECK(replay_page_json("user.created", entries, true) ==
          R"({"type":"user.created","events":[)"
          R"({"entry":"7-0","event":{"specversion":"1.0","id":"a\"1","version":2,"data":{"x":1}}},)"
          R"({"entry":"7-1","event":{"id":"b","data":[]}}],"next":"7-2"})");
    CHECK(replay_page_json("t", entries, false).ends_with(R"(,"next":null})"));
    CHECK(replay_page_json("t", {}, true) == R"({"type":"t","events":[],"next":null})");
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
    CHECK(dead_letter_page_json("t", entries, true) ==
          R"({"type":"t","dead_letters":[)"
          R"({"dlq_entry":"9-0","entry":"3-1","group":"billing","deliveries":5,)"
          R"("reason":"ack deadline passed","time":"2026-11-27T10:00:00.000Z",)"
          R"("event":{"id":"e1","data":{}}},)"
          R"({"dlq_entry":"9-1","entry":null,"group":null,"deliveries":null,"reason":null,)"
          R"("time":null,"event":{"id":"e2","data":{}}}],"next":"9-2"})");
}

namespace {

std::vector<deliver::stream_entry> entries_of(std::size_t first, std::size_t n,
                                              std::size_t data_bytes) {
    std::vector<deliver::stream_entry> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        out[i].id = std::to_string(first + i) + "-0";
        out[i].fields = {{"data", std::string(data_bytes, 'x')}};
    }
    return out;
}

}  // namespace

TEST_CASE("a page asks Redis for no more entries than fit in half the reply cap",
          "[unit][streams]") {
    page_query q;
    q.limit = 1000;
    // 1 MiB replies, entries of at most 80 KiB: 6 per XRANGE (6 x 80 KiB <= 512 KiB).
    page_limits limits{.max_reply_bytes = 1 << 20, .max_entry_bytes = 80 * 1024};
    page_reader p(q, limits);
    CHECK(p.from() == "-");
    CHECK(p.next_count() == 6);
    // Entries of 60 KB: the page stops once it holds 512 KiB, with a next page.
    p.take(entries_of(1, 6, 60'000));
    CHECK(p.from() == "6-1");
    CHECK(p.next_count() == 6);
    p.take(entries_of(7, 6, 60'000));
    CHECK(p.next_count() == 0);
    CHECK(p.more());
    CHECK(p.entries().size() == 12);
    CHECK(p.charged_bytes() >= limits.step_bytes());
    CHECK(p.charged_bytes() <= limits.max_reply_bytes);

    // Small entries: the limit ends the page; the last step asks only for what is left.
    page_query few;
    few.limit = 8;
    page_reader small(few, limits);
    small.take(entries_of(1, 6, 10));
    CHECK(small.next_count() == 2);
    small.take(entries_of(7, 2, 10));
    CHECK(small.next_count() == 0);
    CHECK(small.more());

    // Fewer than asked: the range has ended, no next page.
    page_reader end(few, limits);
    end.take(entries_of(1, 3, 10));
    CHECK(end.next_count() == 0);
    CHECK_FALSE(end.more());
    CHECK(end.entries().size() == 3);
}

TEST_CASE("a step over the reply cap asks for fewer, down to one entry", "[unit][streams]") {
    page_query q;
    q.limit = 100;
    page_limits limits{.max_reply_bytes = 1 << 20, .max_entry_bytes = 64 * 1024};
    page_reader p(q, limits);
    CHECK(p.next_count() == 8);
    CHECK(p.too_large());
    CHECK(p.next_count() == 4);
    p.take(entries_of(1, 4, 100));
    CHECK(p.too_large());
    CHECK(p.next_count() == 2);
    CHECK(p.too_large());
    CHECK(p.next_count() == 1);
    // One entry is over the cap: the page ends before it, and the next page starts at it.
    CHECK(p.too_large());
    CHECK(p.next_count() == 0);
    CHECK(p.more());
    CHECK(p.from() == "4-1");

    // Nothing read yet and one entry is too large: the request must fail.
    page_limits tiny{.max_reply_bytes = 1024, .max_entry_bytes = 4096};
    page_reader none(q, tiny);
    CHECK(none.next_count() == 1);
    CHECK_FALSE(none.too_large());
}
