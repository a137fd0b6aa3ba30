// Replay, consumer groups and dead letters over HTTP, end to end: the real binary, a
// real redis-server, real HTTP.
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/big_events.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

using test::big_order;
using test::metric;

constexpr const char* stream = "sluice:{user.created}:events";
constexpr const char* dlq = "sluice:{user.created}:dlq";

struct running_broker {
    test::redis_server redis;
    test::broker_config cfg;
    std::unique_ptr<test::child_process> process;
    // `redis_settings`: more lines of the config's redis section ("\n  key: value"),
    // written after its url; `extra`: more sections.
    explicit running_broker(const std::string& redis_settings = {}, const std::string& extra = {})
        : cfg(redis.url() + redis_settings, extra), process(test::start_broker(cfg)) {
        REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    }

    test::http_reply call(const std::string& method, const std::string& target,
                          const std::string& body = {},
                          const std::string& content_type = "application/json") {
        test::http_connection c(cfg.port);
        return c.request(method, target, body,
                         body.empty() ? std::string() : "Content-Type: " + content_type + "\r\n");
    }

    // Publishes one user.created event with `id`; returns its entry id.
    std::string publish(const std::string& id) {
        auto r =
            call("POST", "/v1/events",
                 R"({"specversion":"1.0","type":"user.created","source":"/tests","id":")" + id +
                     R"(","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41",)"
                     R"("email":"ada@example.com"}})",
                 "application/cloudevents+json");
        INFO(r.body);
        REQUIRE(r.status == 201);
        auto at = r.body.find(R"("entry":")") + 9;
        return r.body.substr(at, r.body.find('"', at) - at);
    }

    // Writes a dead letter the way the delivery path does (docs/storage.md): every field
    // of the stored entry `entry`, then the dlq_ fields. Returns its id in the dlq.
    std::string dead_letter(const std::string& entry, const std::string& reason) {
        auto lines = split(redis.cli({"XRANGE", stream, entry, entry}));
        REQUIRE(lines.size() > 2);
        REQUIRE(lines[0] == entry);
        std::vector<std::string> args{"XADD", dlq, "*"};
        args.insert(args.end(), lines.begin() + 1, lines.end());
        for (std::string f :
             {"dlq_entry", entry.c_str(), "dlq_group", "billing", "dlq_deliveries", "5",
              "dlq_reason", reason.c_str(), "dlq_time", "2026-11-27T10:00:00.000Z"})
            args.push_back(f);
        return redis.cli(args);
    }

    static std::vector<std::string> split(const std::string& text) {
        std::vector<std::string> out;
        std::size_t start = 0;
        while (start <= text.size()) {
            auto end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            out.push_back(text.substr(start, end - start));
            start = end + 1;
        }
        return out;
    }
};

// A parsed JSON answer; elements stay valid while it lives.
struct json {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    explicit json(const std::string& text) {
        INFO(text);
        REQUIRE(parser.parse(text).get(root) == simdjson::SUCCESS);
    }
};

std::string str(simdjson::dom::element e) {
    return std::string(std::string_view(e));
}

std::uint64_t ms_of(const std::string& entry) {
    return std::stoull(entry.substr(0, entry.find('-')));
}

// `ms` as RFC 3339 with milliseconds, in UTC or at `offset_minutes` east of it.
std::string rfc3339(std::uint64_t ms, int offset_minutes = 0) {
    std::time_t t = static_cast<std::time_t>(ms / 1000) + offset_minutes * 60;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[32], out[64];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (offset_minutes == 0)
        std::snprintf(out, sizeof out, "%s.%03uZ", date, static_cast<unsigned>(ms % 1000));
    else
        std::snprintf(out, sizeof out, "%s.%03u+%02d:%02d", date, static_cast<unsigned>(ms % 1000),
                      offset_minutes / 60, offset_minutes % 60);
    return out;
}

// Entry ids in redis-cli's output of XRANGE / XREADGROUP (lines like 123-0).
std::vector<std::string> entry_ids(const std::string& output) {
    std::vector<std::string> ids;
    for (const auto& line : running_broker::split(output)) {
        auto dash = line.find('-');
        if (dash != std::string::npos && dash > 0 && dash + 1 < line.size() &&
            line.find_first_not_of("0123456789-") == std::string::npos)
            ids.push_back(line);
    }
    return ids;
}

// The entries and event ids of a replay or dead-letter page.
std::vector<std::string> page_entries(const json& page, const char* list, const char* member) {
    std::vector<std::string> out;
    for (auto e : page.root[list].get_array()) out.push_back(str(e[member]));
    return out;
}

// The strings of the array `list` in `page`.
std::vector<std::string> strings(const json& page, const char* list) {
    std::vector<std::string> out;
    for (auto e : page.root[list].get_array()) out.push_back(str(e));
    return out;
}

// The entry id just after `entry`: where the next page starts.
std::string next_id(const std::string& entry) {
    auto dash = entry.find('-');
    return entry.substr(0, dash + 1) + std::to_string(std::stoull(entry.substr(dash + 1)) + 1);
}

void check_problem(const test::http_reply& r, unsigned status, const std::string& code) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(r.content_type == "application/problem+json");
    CHECK_THAT(r.body, Contains(R"("code":")" + code + '"'));
}

}  // namespace

TEST_CASE("replay pages through a type's events in order and stops at to", "[streams][redis]") {
    running_broker b;
    std::vector<std::string> entries;
    for (int i = 0; i < 25; ++i) entries.push_back(b.publish("r-" + std::to_string(i)));

    std::vector<std::string> seen, ids;
    std::string target = "/v1/streams/user.created/events?limit=10";
    int pages = 0;
    for (;;) {
        auto r = b.call("GET", target);
        REQUIRE(r.status == 200);
        CHECK(r.content_type == "application/json");
        json page(r.body);
        CHECK(str(page.root["type"]) == "user.created");
        for (auto e : page.root["events"].get_array()) {
            seen.push_back(str(e["entry"]));
            ids.push_back(str(e["event"]["id"]));
        }
        ++pages;
        if (page.root["next"].is_null()) break;
        target = "/v1/streams/user.created/events?limit=10&from=" + str(page.root["next"]);
        REQUIRE(pages < 10);
    }
    CHECK(pages == 3);
    CHECK(seen == entries);
    REQUIRE(ids.size() == 25);
    for (int i = 0; i < 25; ++i)
        CHECK(ids[static_cast<std::size_t>(i)] == "r-" + std::to_string(i));

    // Each event comes back as the CloudEvent that was stored.
    json first(b.call("GET", "/v1/streams/user.created/events?limit=1").body);
    auto event = first.root["events"].at(0)["event"];
    CHECK(str(event["specversion"]) == "1.0");
    CHECK(str(event["source"]) == "/tests");
    CHECK(str(event["type"]) == "user.created");
    CHECK(int64_t(event["version"]) == 2);
    CHECK(str(event["data"]["email"]) == "ada@example.com");
    CHECK(str(first.root["next"]) == next_id(entries[0]));

    // `to` is inclusive; the page is not full, so there is no next.
    auto upto =
        b.call("GET", "/v1/streams/user.created/events?from=" + entries[5] + "&to=" + entries[9]);
    REQUIRE(upto.status == 200);
    json bounded(upto.body);
    CHECK(page_entries(bounded, "events", "entry") ==
          std::vector<std::string>(entries.begin() + 5, entries.begin() + 10));
    CHECK(bounded.root["next"].is_null());

    // A full last page offers a next page, which is empty.
    json tail(b.call("GET", "/v1/streams/user.created/events?limit=5&from=" + entries[20]).body);
    CHECK(page_entries(tail, "events", "entry").size() == 5);
    REQUIRE_FALSE(tail.root["next"].is_null());
    auto after = b.call("GET", "/v1/streams/user.created/events?from=" + str(tail.root["next"]));
    CHECK(after.body == R"({"type":"user.created","events":[],"next":null})");
}

TEST_CASE("replay by RFC 3339 time starts and ends on the right entries", "[streams][redis]") {
    running_broker b;
    std::vector<std::string> entries;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 4; ++i)
            entries.push_back(b.publish("t-" + std::to_string(round * 4 + i)));
        std::this_thread::sleep_for(30ms);  // the rounds differ in their milliseconds
    }
    auto from = rfc3339(ms_of(entries[4]));
    auto to = rfc3339(ms_of(entries[7]));
    std::vector<std::string> middle(entries.begin() + 4, entries.begin() + 8);

    json utc(b.call("GET", "/v1/streams/user.created/events?from=" + from + "&to=" + to).body);
    CHECK(page_entries(utc, "events", "entry") == middle);

    // The same instants with a +02:00 offset, '+' sent raw and percent-encoded.
    auto from2 = rfc3339(ms_of(entries[4]), 120);
    auto to2 = rfc3339(ms_of(entries[7]), 120);
    json raw(b.call("GET", "/v1/streams/user.created/events?from=" + from2 + "&to=" + to2).body);
    CHECK(page_entries(raw, "events", "entry") == middle);
    auto encoded = [](std::string s) { return s.replace(s.find('+'), 1, "%2B"); };
    json pct(b.call("GET", "/v1/streams/user.created/events?from=" + encoded(from2) +
                               "&to=" + encoded(to2))
                 .body);
    CHECK(page_entries(pct, "events", "entry") == middle);

    // From a time after everything: nothing.
    json later(
        b.call("GET", "/v1/streams/user.created/events?from=" + rfc3339(ms_of(entries.back()) + 1))
            .body);
    CHECK(page_entries(later, "events", "entry").empty());
}

TEST_CASE("groups show consumers, pending entries, lag and the oldest pending age",
          "[streams][redis]") {
    // The group metrics are polled every 200 ms here instead of every 5 s.
    running_broker b({}, "metrics:\n  group_stats_interval: 200ms\n");
    CHECK(b.call("GET", "/v1/streams/order.placed/groups").body ==
          R"({"type":"order.placed","groups":[]})");

    std::vector<std::string> entries;
    for (int i = 0; i < 5; ++i) entries.push_back(b.publish("g-" + std::to_string(i)));
    auto created = b.call("PUT", "/v1/streams/user.created/groups/billing", R"({"from":"start"})");
    CHECK(created.status == 201);
    CHECK(created.body ==
          R"({"type":"user.created","group":"billing","created":true,"position":"0-0"})");
    auto audit = b.call("PUT", "/v1/streams/user.created/groups/audit");
    CHECK(audit.status == 201);
    CHECK_THAT(audit.body, Contains(R"("position":"$")"));

    auto read =
        b.redis.cli({"XREADGROUP", "GROUP", "billing", "c1", "COUNT", "3", "STREAMS", stream, ">"});
    CHECK(entry_ids(read) == std::vector<std::string>(entries.begin(), entries.begin() + 3));
    std::this_thread::sleep_for(300ms);

    auto r = b.call("GET", "/v1/streams/user.created/groups");
    REQUIRE(r.status == 200);
    json groups(r.body);
    CHECK(str(groups.root["type"]) == "user.created");
    REQUIRE(groups.root["groups"].get_array().size() == 2);
    bool saw_billing = false, saw_audit = false;
    for (auto g : groups.root["groups"].get_array()) {
        INFO(simdjson::minify(g));
        if (str(g["name"]) == "billing") {
            saw_billing = true;
            CHECK(int64_t(g["consumers"]["count"]) == 1);
            auto c = g["consumers"]["list"].at(0);
            CHECK(str(c["name"]) == "c1");
            CHECK(int64_t(c["pending"]) == 3);
            CHECK(int64_t(c["idle_ms"]) >= 250);
            CHECK(int64_t(g["pending"]) == 3);
            CHECK(int64_t(g["lag"]) == 2);
            CHECK(str(g["last_delivered"]) == entries[2]);
            CHECK(int64_t(g["age_ms"]) >= 300);
            CHECK(int64_t(g["age_ms"]) < 10000);
        } else {
            saw_audit = str(g["name"]) == "audit";
            CHECK(int64_t(g["consumers"]["count"]) == 0);
            CHECK(g["consumers"]["list"].get_array().size() == 0);
            CHECK(int64_t(g["pending"]) == 0);
            CHECK(int64_t(g["lag"]) == 0);
            CHECK(str(g["last_delivered"]) == entries[4]);
            CHECK(g["age_ms"].is_null());
        }
    }
    CHECK(saw_billing);
    CHECK(saw_audit);

    // The same numbers reach the metrics, from the poller's next round.
    auto metrics_show = [&](const std::string& needle) {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (b.call("GET", "/metrics").body.find(needle) != std::string::npos) return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    };
    CHECK(metrics_show(R"(sluice_group_pending{group="billing",type="user.created"} 3)"));
    CHECK(metrics_show(R"(sluice_group_lag{group="billing",type="user.created"} 2)"));
    CHECK(metrics_show(R"(sluice_group_pending{group="audit",type="user.created"} 0)"));
}

TEST_CASE("PUT on an existing group moves it to an entry id, a time, start or new",
          "[streams][redis]") {
    running_broker b;
    std::vector<std::string> entries;
    for (int i = 0; i < 6; ++i) {
        entries.push_back(b.publish("m-" + std::to_string(i)));
        std::this_thread::sleep_for(5ms);
    }
    const std::string group = "/v1/streams/user.created/groups/team.billing_v2:eu-1";
    REQUIRE(b.call("PUT", group, R"({"from":"start"})").status == 201);
    auto next_read = [&] {
        return entry_ids(b.redis.cli({"XREADGROUP", "GROUP", "team.billing_v2:eu-1", "c1", "COUNT",
                                      "1", "STREAMS", stream, ">"}));
    };
    CHECK(next_read() == std::vector<std::string>{entries[0]});

    auto by_id = b.call("PUT", group, R"({"from":")" + entries[3] + R"("})");
    CHECK(by_id.status == 200);
    CHECK_THAT(by_id.body, Contains(R"("created":false)"));
    CHECK(next_read() == std::vector<std::string>{entries[3]});

    auto by_time = b.call("PUT", group, R"({"from":")" + rfc3339(ms_of(entries[1])) + R"("})");
    CHECK(by_time.status == 200);
    CHECK(next_read() == std::vector<std::string>{entries[1]});

    CHECK(b.call("PUT", group, R"({"from":"start"})").status == 200);
    CHECK(next_read() == std::vector<std::string>{entries[0]});

    auto fresh = b.call("PUT", group);
    CHECK(fresh.status == 200);
    CHECK_THAT(fresh.body, Contains(R"("position":"$")"));
    CHECK(next_read().empty());
    auto later = b.publish("m-later");
    CHECK(next_read() == std::vector<std::string>{later});
}

TEST_CASE("dead letters are listed in pages with why they died and the whole event",
          "[streams][redis]") {
    running_broker b;
    std::vector<std::string> entries, letters;
    for (int i = 0; i < 3; ++i) {
        entries.push_back(b.publish("d-" + std::to_string(i)));
        letters.push_back(
            b.dead_letter(entries.back(), "handler said \"no\" " + std::to_string(i)));
    }
    auto r = b.call("GET", "/v1/dlq/user.created?limit=2");
    REQUIRE(r.status == 200);
    json page(r.body);
    CHECK(str(page.root["type"]) == "user.created");
    CHECK(page_entries(page, "dead_letters", "dlq_entry") ==
          std::vector<std::string>(letters.begin(), letters.begin() + 2));
    CHECK(page_entries(page, "dead_letters", "entry") ==
          std::vector<std::string>(entries.begin(), entries.begin() + 2));
    auto first = page.root["dead_letters"].at(0);
    CHECK(str(first["group"]) == "billing");
    CHECK(int64_t(first["deliveries"]) == 5);
    CHECK(str(first["reason"]) == "handler said \"no\" 0");
    CHECK(str(first["time"]) == "2026-11-27T10:00:00.000Z");
    // The event is the stored CloudEvent, without Sluice's dlq_ fields.
    json replayed(b.call("GET", "/v1/streams/user.created/events?limit=1").body);
    CHECK(simdjson::minify(first["event"]) ==
          simdjson::minify(replayed.root["events"].at(0)["event"]));
    CHECK_THAT(simdjson::minify(first["event"]), !Contains("dlq_"));

    REQUIRE_FALSE(page.root["next"].is_null());
    json rest(b.call("GET", "/v1/dlq/user.created?limit=2&from=" + str(page.root["next"])).body);
    CHECK(page_entries(rest, "dead_letters", "dlq_entry") == std::vector<std::string>{letters[2]});
    CHECK(rest.root["next"].is_null());
    CHECK(b.call("GET", "/v1/dlq/order.placed").body ==
          R"({"type":"order.placed","dead_letters":[],"next":null})");
}

TEST_CASE("one dead letter by its entry id, and the errors around it", "[streams][redis]") {
    running_broker b;
    auto entry = b.publish("one-0");
    auto letter = b.dead_letter(entry, "poison");
    auto r = b.call("GET", "/v1/dlq/user.created/" + letter);
    REQUIRE(r.status == 200);
    json one(r.body);
    CHECK(str(one.root["type"]) == "user.created");
    CHECK(str(one.root["dlq_entry"]) == letter);
    CHECK(str(one.root["entry"]) == entry);
    CHECK(str(one.root["reason"]) == "poison");
    // The same object as the page's item.
    json page(b.call("GET", "/v1/dlq/user.created").body);
    CHECK(simdjson::minify(one.root["event"]) ==
          simdjson::minify(page.root["dead_letters"].at(0)["event"]));

    auto missing = b.call("GET", "/v1/dlq/user.created/1-1");
    CHECK(missing.status == 404);
    CHECK_THAT(missing.body, Contains("\"code\":\"dead_letter_not_found\""));
    auto bad = b.call("GET", "/v1/dlq/user.created/nope");
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Contains("\"code\":\"invalid_entry\""));
    CHECK(b.call("GET", "/v1/dlq/user.created/123").status == 400);  // an id has a sequence
    CHECK(b.call("GET", "/v1/dlq/no.such/1-1").status == 404);
    auto wrong = b.call("GET", "/v1/dlq/user.created/requeue");
    CHECK(wrong.status == 405);
    CHECK(wrong.header("Allow") == "POST");
    CHECK(b.call("DELETE", "/v1/dlq/user.created/" + letter).status == 405);
}

TEST_CASE("requeue puts dead letters back on the stream with identical CloudEvents",
          "[streams][redis]") {
    running_broker b;
    std::vector<std::string> entries, letters;
    for (int i = 0; i < 3; ++i) {
        entries.push_back(b.publish("q-" + std::to_string(i)));
        letters.push_back(b.dead_letter(entries.back(), "ack deadline passed"));
    }
    json originals(b.call("GET", "/v1/streams/user.created/events").body);

    auto one = b.call("POST", "/v1/dlq/user.created/requeue",
                      R"({"entries":[")" + letters[1] + R"(","1-1"]})");
    REQUIRE(one.status == 200);
    json answer(one.body);
    REQUIRE(answer.root["requeued"].get_array().size() == 1);
    CHECK(str(answer.root["requeued"].at(0)["dlq_entry"]) == letters[1]);
    auto fresh = str(answer.root["requeued"].at(0)["entry"]);
    CHECK(fresh > entries.back());
    CHECK(strings(answer, "missing") == std::vector<std::string>{"1-1"});
    CHECK(b.redis.cli({"XLEN", dlq}) == "2");

    // The new entry holds the same CloudEvent as the original one, and no dlq_ fields.
    json back(b.call("GET", "/v1/streams/user.created/events?from=" + fresh).body);
    REQUIRE(back.root["events"].get_array().size() == 1);
    CHECK(simdjson::minify(back.root["events"].at(0)["event"]) ==
          simdjson::minify(originals.root["events"].at(1)["event"]));
    CHECK_THAT(b.redis.cli({"XRANGE", stream, fresh, fresh}), !Contains("dlq_"));

    // Requeueing it again finds nothing.
    auto again =
        b.call("POST", "/v1/dlq/user.created/requeue", R"({"entries":[")" + letters[1] + R"("]})");
    CHECK(again.body ==
          R"({"type":"user.created","requeued":[],"missing":[")" + letters[1] + R"("]})");

    auto all = b.call("POST", "/v1/dlq/user.created/requeue", R"({"all":true})");
    REQUIRE(all.status == 200);
    json everything(all.body);
    CHECK(page_entries(everything, "requeued", "dlq_entry") ==
          std::vector<std::string>{letters[0], letters[2]});
    CHECK(everything.root["missing"].get_array().size() == 0);
    CHECK(b.redis.cli({"XLEN", dlq}) == "0");
    CHECK(b.redis.cli({"XLEN", stream}) == "6");
}

TEST_CASE("requeue all works through more dead letters than one script call takes",
          "[streams][redis]") {
    running_broker b;
    auto entry = b.publish("bulk");
    b.dead_letter(entry, "first");
    // 1,100 more copies of that dead letter, written in one script.
    auto fields = running_broker::split(b.redis.cli({"XRANGE", dlq, "-", "+"}));
    std::vector<std::string> args{
        "EVAL",
        "for i = 1, tonumber(ARGV[1]) do redis.call(\"XADD\", KEYS[1], \"*\", unpack(ARGV, 2)) "
        "end return 1",
        "1", dlq, "1100"};
    args.insert(args.end(), fields.begin() + 1, fields.end());
    REQUIRE(b.redis.cli(args) == "1");
    // And one that holds no event at all: it cannot be requeued and stays.
    auto empty = b.redis.cli({"XADD", dlq, "*", "dlq_group", "billing", "dlq_reason", "broken"});
    REQUIRE(b.redis.cli({"XLEN", dlq}) == "1102");

    auto r = b.call("POST", "/v1/dlq/user.created/requeue", R"({"all":true})");
    REQUIRE(r.status == 200);
    json answer(r.body);
    CHECK(answer.root["requeued"].get_array().size() == 1101);
    CHECK(strings(answer, "missing") == std::vector<std::string>{empty});
    CHECK(b.redis.cli({"XLEN", dlq}) == "1");
    CHECK(b.redis.cli({"XLEN", stream}) == "1102");
    CHECK(entry_ids(b.redis.cli({"XRANGE", dlq, "-", "+"})) == std::vector<std::string>{empty});
}

TEST_CASE("delete removes listed dead letters or all of them", "[streams][redis]") {
    running_broker b;
    std::vector<std::string> letters;
    for (int i = 0; i < 4; ++i)
        letters.push_back(b.dead_letter(b.publish("x-" + std::to_string(i)), "gone"));
    auto some =
        b.call("DELETE", "/v1/dlq/user.created", R"({"entries":[")" + letters[0] + R"(","1-1"]})");
    CHECK(some.status == 200);
    CHECK(some.body == R"({"type":"user.created","deleted":1})");
    CHECK(b.redis.cli({"XLEN", dlq}) == "3");
    auto by_query = b.call("DELETE", "/v1/dlq/user.created?all=true");
    CHECK(by_query.body == R"({"type":"user.created","deleted":3})");
    CHECK(b.redis.cli({"EXISTS", dlq}) == "0");
    b.dead_letter(b.publish("x-9"), "gone");
    CHECK(b.call("DELETE", "/v1/dlq/user.created", R"({"all":true})").body ==
          R"({"type":"user.created","deleted":1})");
    CHECK(b.call("DELETE", "/v1/dlq/user.created", R"({"all":true})").body ==
          R"({"type":"user.created","deleted":0})");
    CHECK(b.redis.cli({"XLEN", stream}) == "5");  // the source stream is untouched
}

TEST_CASE("unknown types, bad parameters, bad groups and missing bodies get clear problems",
          "[streams][redis]") {
    running_broker b;
    b.dead_letter(b.publish("e-0"), "kept");

    check_problem(b.call("GET", "/v1/streams/nope/events"), 404, "unknown_type");
    check_problem(b.call("GET", "/v1/streams/nope/groups"), 404, "unknown_type");
    check_problem(b.call("PUT", "/v1/streams/nope/groups/billing"), 404, "unknown_type");
    check_problem(b.call("GET", "/v1/dlq/nope"), 404, "unknown_type");
    check_problem(b.call("POST", "/v1/dlq/nope/requeue", R"({"all":true})"), 404, "unknown_type");
    check_problem(b.call("DELETE", "/v1/dlq/nope?all=true"), 404, "unknown_type");

    auto from = b.call("GET", "/v1/streams/user.created/events?from=yesterday");
    check_problem(from, 400, "invalid_parameter");
    CHECK_THAT(from.body, Contains(R"("parameter":"from")"));
    CHECK_THAT(from.body, Contains("from must be `start`, an entry id"));
    for (std::string limit : {"0", "1001", "ten"}) {
        auto r = b.call("GET", "/v1/streams/user.created/events?limit=" + limit);
        check_problem(r, 400, "invalid_parameter");
        CHECK_THAT(r.body, Contains(R"("parameter":"limit")"));
        CHECK_THAT(r.body, Contains("limit must be an integer from 1 to 1000"));
    }
    auto to = b.call("GET", "/v1/streams/user.created/events?to=soon");
    CHECK_THAT(to.body, Contains(R"("parameter":"to")"));
    auto typo = b.call("GET", "/v1/dlq/user.created?limt=5");
    check_problem(typo, 400, "invalid_parameter");
    CHECK_THAT(typo.body, Contains("unknown query parameter 'limt'"));
    check_problem(b.call("GET", "/v1/dlq/user.created?from=new"), 400, "invalid_parameter");

    auto group = b.call("PUT", "/v1/streams/user.created/groups/bad!name");
    check_problem(group, 400, "invalid_group");
    CHECK_THAT(group.body, Contains("got 'bad!name'"));
    check_problem(b.call("PUT", "/v1/streams/user.created/groups/" + std::string(129, 'g')), 400,
                  "invalid_group");
    check_problem(b.call("PUT", "/v1/streams/user.created/groups/billing", R"({"from":"soon"})"),
                  400, "invalid_body");
    check_problem(b.call("PUT", "/v1/streams/user.created/groups/billing", "{from"), 400,
                  "malformed_json");

    auto bare = b.call("POST", "/v1/dlq/user.created/requeue");
    check_problem(bare, 400, "invalid_body");
    CHECK_THAT(bare.body, Contains("the body is required"));
    check_problem(b.call("POST", "/v1/dlq/user.created/requeue", "{}"), 400, "invalid_body");
    check_problem(b.call("POST", "/v1/dlq/user.created/requeue", R"({"entries":["x"]})"), 400,
                  "invalid_body");
    check_problem(b.call("DELETE", "/v1/dlq/user.created"), 400, "invalid_body");
    check_problem(b.call("DELETE", "/v1/dlq/user.created?all=yes"), 400, "invalid_parameter");

    // None of it changed anything.
    CHECK(b.redis.cli({"XLEN", dlq}) == "1");
    CHECK(b.redis.cli({"XLEN", stream}) == "1");
    CHECK(b.redis.cli({"XINFO", "GROUPS", stream}).empty());
}

TEST_CASE("with Redis down every stream endpoint answers 503 with Retry-After, then recovers",
          "[streams][redis]") {
    running_broker b;
    b.publish("down-0");
    b.redis.kill();
    test::wait_for_status(b.cfg.port, "/readyz", 503, 5s);
    std::vector<test::http_reply> replies{
        b.call("GET", "/v1/streams/user.created/events"),
        b.call("GET", "/v1/streams/user.created/groups"),
        b.call("PUT", "/v1/streams/user.created/groups/billing"),
        b.call("GET", "/v1/dlq/user.created"),
        b.call("POST", "/v1/dlq/user.created/requeue", R"({"all":true})"),
        b.call("DELETE", "/v1/dlq/user.created?all=true")};
    for (const auto& r : replies) {
        check_problem(r, 503, "redis_unavailable");
        CHECK_FALSE(r.header("Retry-After").empty());
    }
    b.redis.start();
    test::wait_for_status(b.cfg.port, "/readyz", 200, 5s);
    CHECK(b.call("GET", "/v1/streams/user.created/events").status == 200);
    CHECK(b.call("PUT", "/v1/streams/user.created/groups/billing").status == 201);
}

namespace {

// Publishes `n` order.placed events of 60 KB each; returns their stream entries.
std::set<std::string> publish_big_orders(running_broker& b, int n) {
    std::set<std::string> published;
    for (int i = 0; i < n; ++i) {
        auto r = b.call("POST", "/v1/events", big_order(i, 60'000), "application/cloudevents+json");
        REQUIRE(r.status == 201);
        published.insert(test::json_string(r.body, "entry"));
    }
    return published;
}

// The entries subscription "s" of `c` receives until it has `want` of them (20 s at
// most), acking each when `ack`.
std::set<std::string> receive_entries(test::ws_client& c, std::size_t want, bool ack) {
    std::set<std::string> delivered;
    auto until = std::chrono::steady_clock::now() + 20s;
    while (delivered.size() < want && std::chrono::steady_clock::now() < until) {
        auto frame = c.receive_op("event", 1s);
        if (!frame) continue;
        auto entry = test::json_string(*frame, "entry");
        delivered.insert(entry);
        if (ack) c.send(R"({"op":"ack","sub":"s","entries":[")" + entry + R"("]})");
    }
    return delivered;
}

}  // namespace

TEST_CASE("a replay of events larger than one reply pages by bytes while publishes keep working",
          "[streams][redis]") {
    // 40 events of 60 KB behind a 1 MiB reply cap: one XRANGE for all of them would be
    // 2.4 MB. Entries are at most 64 KiB of body + 16 KiB of headers + 4 KiB, so each
    // step asks for 6 and a page stops at 512 KiB.
    running_broker b("\n  max_reply_bytes: 1MiB", "threads: 1\nhttp:\n  max_body_bytes: 64KiB\n");
    std::vector<std::string> entries;
    for (int i = 0; i < 40; ++i) {
        auto r = b.call("POST", "/v1/events", big_order(i, 60'000), "application/cloudevents+json");
        INFO(r.body);
        REQUIRE(r.status == 201);
        auto at = r.body.find(R"("entry":")") + 9;
        entries.push_back(r.body.substr(at, r.body.find('"', at) - at));
    }

    // Publishes on the same I/O thread, and so the same Redis connection, meanwhile.
    std::atomic<bool> stop{false};
    std::atomic<int> published{0}, failed{0};
    std::thread publisher([&] {
        test::http_connection c(b.cfg.port);
        for (int i = 0; !stop; ++i) {
            try {
                auto r = c.request(
                    "POST", "/v1/events",
                    R"({"specversion":"1.0","type":"user.created","source":"/tests","id":"p-)" +
                        std::to_string(i) +
                        R"(","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41",)"
                        R"("email":"ada@example.com"}})",
                    "Content-Type: application/cloudevents+json\r\n");
                (r.status == 201 ? published : failed)++;
            } catch (const std::exception&) {  // a timeout: counted, not thrown across
                ++failed;
            }
        }
    });

    std::vector<std::string> seen;
    std::vector<std::size_t> page_sizes;
    std::string target = "/v1/streams/order.placed/events?limit=40";
    for (int pages = 0; pages < 20; ++pages) {
        auto r = b.call("GET", target);
        INFO(r.body.substr(0, 300));
        CHECK(r.status == 200);
        if (r.status != 200) break;  // not REQUIRE: the publisher thread must be joined
        CHECK(r.body.size() < (1u << 20));
        json page(r.body);
        auto got = page_entries(page, "events", "entry");
        page_sizes.push_back(got.size());
        seen.insert(seen.end(), got.begin(), got.end());
        if (page.root["next"].is_null()) break;
        target = "/v1/streams/order.placed/events?limit=40&from=" + str(page.root["next"]);
    }
    stop = true;
    publisher.join();
    CHECK(seen == entries);
    // Full pages (cut by bytes, not by the limit), each with a next cursor.
    REQUIRE(page_sizes.size() >= 4);
    CHECK(page_sizes[0] == 12);
    CHECK(failed == 0);
    CHECK(published > 0);

    // The dead-letter list pages the same way: 20 events copied to the dead letters.
    b.redis.cli(
        {"EVAL",
         "for _, e in ipairs(redis.call(\"XRANGE\", KEYS[1], \"-\", \"+\", \"COUNT\", 20)) do "
         "local f = e[2]; f[#f + 1] = \"dlq_entry\"; f[#f + 1] = e[1]; "
         "redis.call(\"XADD\", KEYS[2], \"*\", unpack(f)) end",
         "2", "sluice:{order.placed}:events", "sluice:{order.placed}:dlq"});
    auto dl = b.call("GET", "/v1/dlq/order.placed?limit=40");
    REQUIRE(dl.status == 200);
    json dead(dl.body);
    CHECK(page_entries(dead, "dead_letters", "entry") ==
          std::vector<std::string>(entries.begin(), entries.begin() + 12));
    CHECK_FALSE(dead.root["next"].is_null());
}

TEST_CASE("an entry larger than the reply cap ends the page before it, then answers 502",
          "[streams][redis]") {
    running_broker b("\n  max_reply_bytes: 1MiB", "threads: 1\nhttp:\n  max_body_bytes: 64KiB\n");
    auto first = b.publish("small-1");
    // Stored behind the broker's back, as if under a larger http.max_body_bytes
    // (double quotes in the scripts: cli() quotes each argument with single ones).
    auto big = b.redis.cli({"EVAL",
                            "return redis.call(\"XADD\", KEYS[1], \"*\", \"specversion\", \"1.0\", "
                            "\"data\", string.rep(\"x\", 1200000))",
                            "1", stream});
    auto last = b.publish("small-2");
    auto r = b.call("GET", "/v1/streams/user.created/events");
    REQUIRE(r.status == 200);
    json page(r.body);
    CHECK(page_entries(page, "events", "entry") == std::vector<std::string>{first});
    REQUIRE_FALSE(page.root["next"].is_null());
    auto at_big = b.call("GET", "/v1/streams/user.created/events?from=" + str(page.root["next"]));
    check_problem(at_big, 502, "redis_reply_too_large");
    CHECK_THAT(at_big.body, Contains("redis.max_reply_bytes (1048576)"));
    CHECK(at_big.header("Retry-After").empty());
    auto counted = b.call("GET", "/metrics").body;
    CHECK(metric(counted, R"(sluice_redis_replies_too_large_total{client="io-0"})") >= 1);
    CHECK(metric(counted, R"(sluice_redis_reconnects_total{client="io-0"})") == 0);
    // The connection it came on still serves: publishes and the page after it.
    b.publish("small-3");
    auto after = b.call("GET", "/v1/streams/user.created/events?from=" + next_id(big));
    REQUIRE(after.status == 200);
    json rest(after.body);
    CHECK(page_entries(rest, "events", "entry").front() == last);
}

TEST_CASE("many groups: listings are capped and the poller never drops the main client",
          "[streams][redis]") {
    // A 64 KiB reply cap, and 600 groups: XINFO GROUPS alone would be about 160 KB.
    running_broker b("\n  max_reply_bytes: 64KiB");
    b.publish("g-0");
    b.redis.cli({"EVAL",
                 "for i = 1, 600 do redis.call(\"XGROUP\", \"CREATE\", KEYS[1], "
                 "string.format(\"g%03d\", i), \"$\") end",
                 "1", stream});
    // The poller reads every 5 s: wait for the gauges of the first groups.
    std::string text;
    auto until = std::chrono::steady_clock::now() + 8s;
    while (std::chrono::steady_clock::now() < until) {
        text = b.call("GET", "/metrics").body;
        if (text.find(R"(group="g001")") != std::string::npos) break;
        std::this_thread::sleep_for(200ms);
    }
    CHECK_THAT(text, Contains(R"(group="g001")"));
    CHECK_THAT(text, Contains(R"(group="g064")"));
    CHECK_FALSE(text.find(R"(group="g065")") != std::string::npos);
    CHECK(metric(text, R"(sluice_redis_reconnects_total{client="main"})") == 0);
    CHECK(b.call("GET", "/readyz").status == 200);

    auto r = b.call("GET", "/v1/streams/user.created/groups");
    INFO(r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    json listing(r.body);
    CHECK(listing.root["groups"].get_array().size() == 64);
    CHECK(bool(listing.root["truncated"]));
    CHECK(int64_t(listing.root["total"]) == 600);

    // The pages that follow, by `next`: every group once, in name order, and the last
    // page says nothing more follows.
    std::vector<std::string> names;
    for (auto g : listing.root["groups"].get_array()) names.push_back(str(g["name"]));
    std::string next = str(listing.root["next"]);
    int pages = 1;
    while (!next.empty() && pages < 20) {
        auto more = b.call("GET", "/v1/streams/user.created/groups?after=" + next);
        REQUIRE(more.status == 200);
        json page(more.body);
        for (auto g : page.root["groups"].get_array()) names.push_back(str(g["name"]));
        CHECK(int64_t(page.root["total"]) == 600);
        next = more.body.find(R"("next":)") == std::string::npos ? "" : str(page.root["next"]);
        CHECK((more.body.find(R"("truncated":true)") != std::string::npos) == !next.empty());
        ++pages;
    }
    CHECK(pages == 10);
    REQUIRE(names.size() == 600);
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == 600);
    CHECK(metric(b.call("GET", "/metrics").body,
                 R"(sluice_limits_reached_total{limit="listed_groups"})") >= 9);
    auto bad = b.call("GET", "/v1/streams/user.created/groups?after=no%20spaces");
    check_problem(bad, 400, "invalid_parameter");
}

TEST_CASE("a group read over the reply cap reads fewer at a time and delivers every event",
          "[streams][redis]") {
    // 30 events of 60 KB for a window of 100: one XREADGROUP (or claim) of them all is
    // 1.8 MB, over the 1 MiB cap. The reader halves its COUNT until a reply fits; what
    // the skipped replies handed out comes back through the claim script.
    // A short type deadline: entries of a skipped reply are due again after it.
    running_broker b("\n  max_reply_bytes: 1MiB",
                     "threads: 1\nhttp:\n  max_body_bytes: 64KiB\ntypes:\n  order.placed:\n"
                     "    delivery:\n      ack_timeout: 300ms\n      retry_backoff: 100ms\n"
                     "      retry_backoff_max: 100ms\n      max_deliveries: 20\n");
    REQUIRE(b.call("PUT", "/v1/streams/order.placed/groups/big", R"({"from":"start"})").status ==
            201);
    auto published = publish_big_orders(b, 30);
    test::ws_client c(b.cfg.port);
    c.send(R"({"op":"subscribe","id":"s","type":"order.placed","group":"big","window":100,)"
           R"("ack_timeout_ms":300})");
    REQUIRE(c.receive_op("subscribed"));
    CHECK(receive_entries(c, published.size(), true) == published);
    // The broker's own connection to Redis never dropped.
    CHECK(metric(b.call("GET", "/metrics").body,
                 R"(sluice_redis_reconnects_total{client="io-0"})") == 0);
}

TEST_CASE("a fan-out read over the reply cap reads fewer at a time and delivers every event",
          "[streams][redis]") {
    // 30 events of 60 KB from the start, for a window of 100: one XREAD of them all is
    // 1.8 MB, over the 1 MiB cap. The feed halves its COUNT until a reply fits.
    running_broker b("\n  max_reply_bytes: 1MiB", "threads: 1\nhttp:\n  max_body_bytes: 64KiB\n");
    auto published = publish_big_orders(b, 30);
    test::ws_client c(b.cfg.port);
    c.send(R"({"op":"subscribe","id":"s","type":"order.placed","from":"start","window":100})");
    REQUIRE(c.receive_op("subscribed"));
    CHECK(receive_entries(c, published.size(), false) == published);
    CHECK(metric(b.call("GET", "/metrics").body,
                 R"(sluice_redis_reconnects_total{client="io-0"})") == 0);
}
