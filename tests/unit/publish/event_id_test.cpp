// The ids and times Sluice fills in for events that come without them.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "deliver/position.hpp"
#include "log/logger.hpp"
#include "publish/event_id.hpp"
#include "schema/formats.hpp"

using namespace sluice;

namespace {
std::string new_id() {
    std::string id(36, ' ');
    publish::format_event_id(id.data());
    return id;
}
}  // namespace

TEST_CASE("event ids are UUIDv7: formatted, versioned, time-ordered and unique",
          "[unit][publish]") {
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 2000; ++i) {
        auto id = new_id();
        REQUIRE(id.size() == 36);
        CHECK(schema::check_format(schema::format_kind::uuid, id));
        CHECK(id[8] == '-');
        CHECK(id[13] == '-');
        CHECK(id[18] == '-');
        CHECK(id[23] == '-');
        CHECK(id[14] == '7');                                          // version
        CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant 10
        CHECK(id.find_first_not_of("0123456789abcdef-") == std::string::npos);
        CHECK(seen.insert(id).second);
        // The first 48 bits are the time in ms: ids sort by time (ms granularity).
        if (!previous.empty()) CHECK(previous.substr(0, 13) <= id.substr(0, 13));
        previous = id;
    }
    auto now_ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    auto id = new_id();
    auto hex = id.substr(0, 8) + id.substr(9, 4);
    auto ms = std::stoull(hex, nullptr, 16);
    CHECK(ms >= now_ms);
    CHECK(ms <= now_ms + 1000);
}

TEST_CASE("filled-in times are RFC 3339 UTC with milliseconds and follow the clock",
          "[unit][publish]") {
    for (int i = 0; i < 3; ++i) {
        auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        std::string t;
        log::append_timestamp(t);
        auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
        REQUIRE(t.size() == 24);
        CHECK(t[10] == 'T');
        CHECK(t.back() == 'Z');
        CHECK(schema::check_format(schema::format_kind::date_time, t));
        auto ms = deliver::parse_rfc3339_ms(t);
        REQUIRE(ms);
        CHECK(static_cast<long long>(*ms) >= before);
        CHECK(static_cast<long long>(*ms) <= after);
        // Across a second boundary too (the date and time are cached per second).
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
}
