#include "deliver/position.hpp"

#include <catch2/catch.hpp>
#include <limits>

using namespace sluice::deliver;

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

entry_id id_of(std::string_view text) {
    INFO("entry id: " << text);
    auto id = parse_entry_id(text);
    REQUIRE(id);
    return *id;
}

std::uint64_t ms_of(std::string_view text) {
    INFO("time: " << text);
    auto ms = parse_rfc3339_ms(text);
    REQUIRE(ms);
    return *ms;
}

start_position position_of(std::string_view text) {
    INFO("from: " << text);
    auto p = parse_start_position(text);
    REQUIRE(p);
    return *p;
}

}  // namespace

TEST_CASE("entry ids parse as <ms>-<seq> or a bare <ms>", "[unit][deliver]") {
    CHECK(id_of("0-0") == entry_id{0, 0});
    CHECK(id_of("1764237600000-0") == entry_id{1764237600000, 0});
    CHECK(id_of("1764237600000-42") == entry_id{1764237600000, 42});
    CHECK(id_of("5") == entry_id{5, 0});
    CHECK(id_of("0") == entry_id{0, 0});
    CHECK(id_of("007-008") == entry_id{7, 8});
    CHECK(id_of("18446744073709551615-18446744073709551615") == entry_id{max_u64, max_u64});
    CHECK(id_of("18446744073709551615") == entry_id{max_u64, 0});
}

TEST_CASE("anything else is not an entry id", "[unit][deliver]") {
    for (const char* bad : {"",
                            "-",
                            "1-",
                            "-1",
                            "1--1",
                            "1-2-3",
                            "a-1",
                            "1-a",
                            "abc",
                            " 1-0",
                            "1-0 ",
                            "+1-0",
                            "1-+0",
                            "-1-0",
                            "1.5-0",
                            "0x10-0",
                            "1e3-0",
                            "18446744073709551616-0",
                            "0-18446744073709551616",
                            "99999999999999999999999",
                            "new",
                            "start",
                            "2026-11-27T10:00:00Z"}) {
        INFO("text: \"" << bad << '"');
        CHECK_FALSE(parse_entry_id(bad));
    }
}

TEST_CASE("entry ids print as <ms>-<seq> and order by ms then seq", "[unit][deliver]") {
    CHECK(entry_id{0, 0}.str() == "0-0");
    CHECK(entry_id{1764237600000, 7}.str() == "1764237600000-7");
    CHECK(entry_id{max_u64, max_u64}.str() == "18446744073709551615-18446744073709551615");
    CHECK(entry_id{1, 0} < entry_id{1, 1});
    CHECK(entry_id{1, max_u64} < entry_id{2, 0});
    CHECK(entry_id{2, 0} > entry_id{1, 5});
    CHECK(entry_id{3, 3} == entry_id{3, 3});
    CHECK(entry_id{3, 3} != entry_id{3, 4});
}

TEST_CASE("before() is the id just before, 0-0 stays 0-0", "[unit][deliver]") {
    CHECK(entry_id{0, 0}.before() == entry_id{0, 0});
    CHECK(entry_id{0, 1}.before() == entry_id{0, 0});
    CHECK(entry_id{5, 3}.before() == entry_id{5, 2});
    // seq 0: the last possible id of the previous millisecond.
    CHECK(entry_id{5, 0}.before() == entry_id{4, max_u64});
    CHECK(entry_id{1, 0}.before() == entry_id{0, max_u64});
    CHECK(entry_id{1764237600000, 0}.before().str() == "1764237599999-18446744073709551615");
    CHECK(entry_id{max_u64, max_u64}.before() == entry_id{max_u64, max_u64 - 1});
    CHECK(entry_id{max_u64, 0}.before() == entry_id{max_u64 - 1, max_u64});
    // Nothing lies strictly between before() and the id itself.
    entry_id x{42, 0};
    CHECK(x.before() < x);
}

TEST_CASE("RFC 3339 times become exact epoch milliseconds", "[unit][deliver]") {
    CHECK(ms_of("1970-01-01T00:00:00Z") == 0);
    CHECK(ms_of("1970-01-01T00:00:00.001Z") == 1);
    CHECK(ms_of("1970-01-01T05:30:00Z") == 19'800'000);
    CHECK(ms_of("2026-11-27T10:00:00Z") == 1'795'773'600'000);
    CHECK(ms_of("2026-11-27t10:00:00z") == 1'795'773'600'000);
    CHECK(ms_of("2026-11-27T10:00:00+00:00") == 1'795'773'600'000);
    CHECK(ms_of("2026-11-27T10:00:00-00:00") == 1'795'773'600'000);
    // Offsets are subtracted: 10:00:00.123+01:00 is 09:00:00.123 UTC.
    CHECK(ms_of("2026-11-27T10:00:00.123+01:00") == 1'795'770'000'123);
    // 10:15-05:30 is 15:45 UTC.
    CHECK(ms_of("2026-11-27T10:15:00-05:30") == 1'795'794'300'000);
    CHECK(ms_of("1970-01-01T01:00:00+01:00") == 0);
    CHECK(ms_of("2024-02-29T23:59:59.999Z") == 1'709'251'199'999);
    CHECK(ms_of("2000-02-29T00:00:00Z") == 951'782'400'000);
    CHECK(ms_of("9999-12-31T23:59:59Z") == 253'402'300'799'000);
    // A leap second counts as the next second.
    CHECK(ms_of("2016-12-31T23:59:60Z") == 1'483'228'800'000);
}

TEST_CASE("RFC 3339 fractions are read to the millisecond, the rest dropped", "[unit][deliver]") {
    constexpr std::uint64_t base = 1'795'773'600'000;  // 2026-11-27T10:00:00Z
    CHECK(ms_of("2026-11-27T10:00:00.5Z") == base + 500);
    CHECK(ms_of("2026-11-27T10:00:00.05Z") == base + 50);
    CHECK(ms_of("2026-11-27T10:00:00.007Z") == base + 7);
    CHECK(ms_of("2026-11-27T10:00:00.000Z") == base);
    CHECK(ms_of("2026-11-27T10:00:00.999999999Z") == base + 999);
    CHECK(ms_of("2026-11-27T10:00:00.123456789+01:00") == base - 3'600'000 + 123);
}

TEST_CASE("invalid RFC 3339 times are refused", "[unit][deliver]") {
    for (const char* bad : {"",
                            "yesterday",
                            "2026-11-27",
                            "2026-11-27T10:00:00",         // no offset
                            "2026-11-27T10:00:00.123",     // no offset
                            "2026-11-27 10:00:00Z",        // space for T
                            "2026-11-27T10:00Z",           // no seconds
                            "2026-11-27T10:00:00.Z",       // empty fraction
                            "2026-11-27T10:00:00Zx",       // trailing bytes
                            "2026-11-27T10:00:00+01:00x",  // trailing bytes
                            "2026-11-27T10:00:00+0100",    // offset without ':'
                            "2026-11-27T10:00:00+01",      // short offset
                            "2026-11-27T10:00:00+01:0",    // short offset
                            "2026-11-27T10:00:00+24:00",   // offset hour
                            "2026-11-27T10:00:00+01:60",   // offset minute
                            "2026/11/27T10:00:00Z",
                            "26-11-27T10:00:00Z",
                            "+026-11-27T10:00:00Z",
                            "2026-1-27T10:00:00Z",
                            "2026-00-10T10:00:00Z",  // month 0
                            "2026-13-10T10:00:00Z",  // month 13
                            "2026-11-00T10:00:00Z",  // day 0
                            "2026-11-31T10:00:00Z",  // November has 30 days
                            "2026-04-31T10:00:00Z",
                            "2026-01-32T10:00:00Z",
                            "2025-02-29T10:00:00Z",  // 2025 is not a leap year
                            "2100-02-29T10:00:00Z",  // nor is 2100
                            "2024-02-30T10:00:00Z",
                            "2026-11-27T24:00:00Z",
                            "2026-11-27T10:60:00Z",
                            "2026-11-27T10:00:61Z",
                            "1969-12-31T23:59:59Z",       // before the epoch
                            "1970-01-01T00:30:00+01:00",  // before the epoch after the offset
                            "1764237600000-0"}) {
        INFO("text: \"" << bad << '"');
        CHECK_FALSE(parse_rfc3339_ms(bad));
    }
}

TEST_CASE("start positions: new, start, an entry id or a time", "[unit][deliver]") {
    auto fresh = position_of("new");
    CHECK(fresh.where == start_position::kind::newest);
    CHECK(fresh.after() == "$");

    auto oldest = position_of("start");
    CHECK(oldest.where == start_position::kind::oldest);
    CHECK(oldest.after() == "0-0");

    auto at = position_of("1764237600000-5");
    CHECK(at.where == start_position::kind::at);
    CHECK(at.first == entry_id{1764237600000, 5});
    CHECK(at.after() == "1764237600000-4");

    auto bare = position_of("1764237600000");
    CHECK(bare.where == start_position::kind::at);
    CHECK(bare.first == entry_id{1764237600000, 0});
    CHECK(bare.after() == "1764237599999-18446744073709551615");

    auto time = position_of("2026-11-27T10:00:00.123+01:00");
    CHECK(time.where == start_position::kind::at);
    CHECK(time.first == entry_id{1'795'770'000'123, 0});
    CHECK(time.after() == "1795770000122-18446744073709551615");

    auto epoch = position_of("1970-01-01T00:00:00Z");
    CHECK(epoch.where == start_position::kind::at);
    CHECK(epoch.first == entry_id{0, 0});
    CHECK(epoch.after() == "0-0");

    for (const char* bad : {"", "New", "START", "newest", "now", "yesterday", "1-x",
                            "2025-02-29T00:00:00Z", " new", "new "}) {
        INFO("text: \"" << bad << '"');
        CHECK_FALSE(parse_start_position(bad));
    }
}

TEST_CASE("after() on hand-made start positions", "[unit][deliver]") {
    start_position p;
    CHECK(p.where == start_position::kind::newest);
    CHECK(p.after() == "$");
    p.first = {9, 9};  // ignored unless `at`
    CHECK(p.after() == "$");
    p.where = start_position::kind::oldest;
    CHECK(p.after() == "0-0");
    p.where = start_position::kind::at;
    CHECK(p.after() == "9-8");
    p.first = {0, 0};
    CHECK(p.after() == "0-0");
    p.first = {0, 1};
    CHECK(p.after() == "0-0");
    p.first = {max_u64, 0};
    CHECK(p.after() == "18446744073709551614-18446744073709551615");
}

TEST_CASE("a vanished group is created again where nothing published since is skipped",
          "[unit][deliver]") {
    auto id = [](std::uint64_t ms, std::uint64_t seq = 0) { return entry_id{ms, seq}; };
    // Only the group went (the stream still holds what the reader had seen): go on
    // after the last entry it knew.
    CHECK(recreate_group_at(id(100), id(500, 2)) == "500-2");
    CHECK(recreate_group_at(id(500, 2), id(500, 2)) == "500-2");
    // Redis came back empty, or a replica without the history took over: the stream
    // is new, every entry in it came after the reader last looked.
    CHECK(recreate_group_at(id(900), id(500, 2)) == "0");
    CHECK(recreate_group_at(std::nullopt, id(500, 2)) == "0");
    // Even when a clock that went back gave the new stream older ids.
    CHECK(recreate_group_at(std::nullopt, id(5000)) == "0");
    // A reader that never knew the stream: from the start.
    CHECK(recreate_group_at(id(100), std::nullopt) == "0");
    CHECK(recreate_group_at(std::nullopt, std::nullopt) == "0");
}
