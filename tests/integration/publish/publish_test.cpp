// POST /v1/events end to end: the real binary, a real redis-server, real HTTP.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

constexpr const char* user_uuid = "0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41";
constexpr const char* traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct running_broker {
    test::redis_server redis;
    test::broker_config cfg{redis.url()};
    std::unique_ptr<test::child_process> process = test::start_broker(cfg);
    running_broker() { REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200); }

    test::http_reply post(const std::string& content_type, const std::string& body,
                          const std::string& headers = {}) {
        test::http_connection c(cfg.port);
        return c.request("POST", "/v1/events", body,
                         "Content-Type: " + content_type + "\r\n" + headers);
    }
};

std::string structured(const std::string& id, const std::string& data,
                       const std::string& extra = {}) {
    return R"({"specversion":"1.0","type":"user.created","source":"/tests","id":")" + id + R"(")" +
           extra + R"(,"data":)" + data + "}";
}

// The "entry" member of a publish answer.
std::string entry_of(const std::string& body) {
    auto at = body.find(R"("entry":")");
    if (at == std::string::npos) return {};
    at += 9;
    return body.substr(at, body.find('"', at) - at);
}

// The stream entry ids in redis-cli's output of XRANGE (lines of the form 123-0).
std::vector<std::string> entry_ids(const std::string& output) {
    std::vector<std::string> ids;
    std::size_t start = 0;
    while (start < output.size()) {
        auto end = output.find('\n', start);
        auto line =
            output.substr(start, end == std::string::npos ? std::string::npos : end - start);
        auto dash = line.find('-');
        bool id = dash != std::string::npos && dash > 0 && dash + 1 < line.size() &&
                  line.find_first_not_of("0123456789-") == std::string::npos;
        if (id) ids.push_back(line);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return ids;
}

std::string good_data() {
    return std::string(R"({"user_id":")") + user_uuid + R"(","email":"ada@example.com"})";
}

}  // namespace

TEST_CASE("a structured CloudEvent is stored and answered with its stream entry",
          "[publish][redis]") {
    running_broker b;
    auto r = b.post("application/cloudevents+json", structured("evt-1", good_data()),
                    "traceparent: " + std::string(traceparent) + "\r\n");
    REQUIRE(r.status == 201);
    CHECK_THAT(r.body, Contains(R"("id":"evt-1")"));
    CHECK_THAT(r.body, Contains(R"("type":"user.created")"));
    CHECK_THAT(r.body, Contains(R"("version":2)"));  // the latest, by default
    CHECK_THAT(r.body, Contains(R"("entry":")"));
    auto stored = b.redis.cli({"XRANGE", "sluice:{user.created}:events", "-", "+"});
    CHECK_THAT(stored, Contains("evt-1"));
    CHECK_THAT(
        stored,
        Contains(
            R"({"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"})"));
    CHECK_THAT(stored, Contains(traceparent));
    CHECK_THAT(stored, Contains("specversion"));
}

TEST_CASE("the simple envelope and binary mode are stored too", "[publish][redis]") {
    running_broker b;
    auto e = b.post("application/json",
                    R"({"type":"user.created","version":1,"data":)" + good_data() + "}");
    CHECK(e.status == 201);
    CHECK_THAT(e.body, Contains(R"("version":1)"));
    CHECK_THAT(e.body, Contains(R"("source":"sluice")"));  // filled from publish.source
    auto bin = b.post(
        "application/json", good_data(),
        "ce-specversion: 1.0\r\nce-type: user.created\r\nce-id: bin-1\r\nce-source: /bin\r\n");
    CHECK(bin.status == 201);
    CHECK_THAT(bin.body, Contains(R"("id":"bin-1")"));
    CHECK(b.redis.cli({"XLEN", "sluice:{user.created}:events"}) == "2");
}

TEST_CASE("the same id from the same source is stored once, also under concurrent repeats",
          "[publish][redis]") {
    running_broker b;
    auto first = b.post("application/cloudevents+json", structured("dup-1", good_data()));
    REQUIRE(first.status == 201);
    auto again = b.post("application/cloudevents+json", structured("dup-1", good_data()));
    CHECK(again.status == 200);
    CHECK_THAT(again.body, Contains(R"("duplicate":true)"));
    CHECK(entry_of(again.body) == entry_of(first.body));

    std::vector<std::thread> threads;
    std::vector<std::string> answers(16);
    for (int i = 0; i < 16; ++i)
        threads.emplace_back([&, i] {
            answers[static_cast<std::size_t>(i)] =
                b.post("application/cloudevents+json", structured("race-1", good_data())).body;
        });
    for (auto& t : threads) t.join();
    std::set<std::string> entries;
    for (const auto& a : answers) entries.insert(entry_of(a));
    CHECK(entries.size() == 1);
    CHECK(b.redis.cli({"XLEN", "sluice:{user.created}:events"}) == "2");
}

TEST_CASE("a batch is answered item by item, a bad item does not fail the others",
          "[publish][redis]") {
    running_broker b;
    std::string batch = "[" + structured("b-1", good_data()) + "," +
                        structured("b-2", R"({"email":"no-id"})") + "," +
                        structured("b-3", good_data()) + "]";
    auto r = b.post("application/cloudevents-batch+json", batch);
    CHECK(r.status == 207);
    CHECK_THAT(r.body, Contains(R"("stored":2,"failed":1)"));
    CHECK_THAT(r.body, Contains(R"("status":422)"));
    CHECK(b.redis.cli({"XLEN", "sluice:{user.created}:events"}) == "2");
}

TEST_CASE("bad events get their own clear problem", "[publish][redis]") {
    running_broker b;
    auto malformed =
        b.post("application/json", "{\n  \"type\": \"user.created\",\n  \"data\": {,}\n}");
    CHECK(malformed.status == 400);
    CHECK_THAT(malformed.body, Contains(R"("code":"malformed_json")"));
    CHECK_THAT(malformed.body, Contains(R"("line":3,"column":12)"));

    auto unknown = b.post("application/json", R"({"type":"nope","data":{}})");
    CHECK(unknown.status == 422);
    CHECK_THAT(unknown.body, Contains(R"("code":"unknown_type")"));

    auto version = b.post("application/json", R"({"type":"user.created","version":9,"data":{}})");
    CHECK(version.status == 422);
    CHECK_THAT(version.body, Contains("user.created has versions 1, 2; got 9"));

    auto invalid = b.post(
        "application/json",
        R"({"type":"user.created","data":{"user_id":"not-a-uuid","email":"ada@example.com","x":1}})");
    CHECK(invalid.status == 422);
    CHECK_THAT(invalid.body, Contains(R"("code":"schema_violation")"));
    CHECK_THAT(invalid.body, Contains(R"("instanceLocation":"/user_id")"));
    CHECK_THAT(invalid.body, Contains(R"("keywordLocation":"/properties/user_id/format")"));
    CHECK_THAT(invalid.body, Contains(R"("instanceLocation":"/x")"));

    auto media = b.post("text/plain", "hello");
    CHECK(media.status == 415);
    CHECK_THAT(media.body, Contains(R"("code":"unsupported_media_type")"));

    CHECK(b.redis.cli({"XLEN", "sluice:{user.created}:events"}) == "0");
    auto metrics = test::http_get(b.cfg.port, "/metrics").body;
    CHECK_THAT(metrics,
               Contains(R"(result="schema_violation",type="user.created",version="2"} 1)"));
}

TEST_CASE("with Redis down, publishing fails fast with 503 and Retry-After, then recovers",
          "[publish][redis]") {
    running_broker b;
    b.redis.kill();
    test::wait_for_status(b.cfg.port, "/readyz", 503, 5s);
    auto r = b.post("application/cloudevents+json", structured("down-1", good_data()));
    CHECK(r.status == 503);
    CHECK_THAT(r.body, Contains(R"("code":"redis_unavailable")"));
    CHECK_FALSE(r.header("Retry-After").empty());
    b.redis.start();
    test::wait_for_status(b.cfg.port, "/readyz", 200, 5s);
    CHECK(b.post("application/cloudevents+json", structured("down-1", good_data())).status == 201);
}

TEST_CASE("retention trims by length but never past what a consumer group still needs",
          "[publish][redis]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(),
                            "types:\n  user.created:\n    retention:\n      max_length: 3\n");
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    const std::string stream = "sluice:{user.created}:events";
    auto publish = [&](int i) {
        test::http_connection c(cfg.port);
        return c
            .request("POST", "/v1/events", structured("r-" + std::to_string(i), good_data()),
                     "Content-Type: application/cloudevents+json\r\n")
            .status;
    };
    for (int i = 0; i < 10; ++i) REQUIRE(publish(i) == 201);
    // A group that has been given the first five entries and acknowledged two.
    redis.cli({"XGROUP", "CREATE", stream, "billing", "0"});
    auto delivered =
        redis.cli({"XREADGROUP", "GROUP", "billing", "c1", "COUNT", "5", "STREAMS", stream, ">"});
    auto ids = entry_ids(redis.cli({"XRANGE", stream, "-", "+", "COUNT", "2"}));
    REQUIRE(ids.size() == 2);
    CHECK(redis.cli({"XACK", stream, "billing", ids[0], ids[1]}) == "2");

    auto wait_for_length = [&](const std::string& want) {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (redis.cli({"XLEN", stream}) != want && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(100ms);
        return redis.cli({"XLEN", stream});
    };
    // Entries 3..10 stay: 3..5 are pending, 6..10 not yet delivered to the group.
    CHECK(wait_for_length("8") == "8");
    std::this_thread::sleep_for(1500ms);
    CHECK(redis.cli({"XLEN", stream}) == "8");

    // Once the group has taken and acknowledged everything, length retention applies.
    redis.cli({"XREADGROUP", "GROUP", "billing", "c1", "COUNT", "100", "STREAMS", stream, ">"});
    std::vector<std::string> args{"XACK", stream, "billing"};
    for (const auto& id : entry_ids(redis.cli({"XRANGE", stream, "-", "+"}))) args.push_back(id);
    redis.cli(args);
    CHECK(wait_for_length("3") == "3");
}

TEST_CASE("an idle group holding retention back is reported, and unsafe trims regardless",
          "[publish][redis]") {
    test::redis_server redis;
    const std::string stream = "sluice:{user.created}:events";
    {
        test::broker_config cfg(redis.url(),
                                "types:\n  user.created:\n    retention:\n      max_length: 2\n"
                                "      idle_group_after: 1s\n");
        auto broker = test::start_broker(cfg);
        REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
        for (int i = 0; i < 5; ++i) {
            test::http_connection c(cfg.port);
            REQUIRE(c.request("POST", "/v1/events",
                              structured("i-" + std::to_string(i), good_data()),
                              "Content-Type: application/cloudevents+json\r\n")
                        .status == 201);
        }
        redis.cli({"XGROUP", "CREATE", stream, "forgotten", "0"});
        CHECK(broker->wait_for_output("idle consumer group is holding back retention", 5s));
        CHECK_THAT(
            test::http_get(cfg.port, "/metrics").body,
            Contains(
                R"(sluice_retention_blocked_groups{group="forgotten",type="user.created"} 1)"));
        CHECK(redis.cli({"XLEN", stream}) == "5");
    }
    test::broker_config unsafe(redis.url(),
                               "types:\n  user.created:\n    retention:\n      max_length: 2\n"
                               "      unsafe: true\n");
    auto broker = test::start_broker(unsafe);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (redis.cli({"XLEN", stream}) != "2" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    CHECK(redis.cli({"XLEN", stream}) == "2");
}

TEST_CASE(
    "a reload with a version that breaks compatibility is refused, the old registry serves on",
    "[publish][redis]") {
    test::redis_server redis;
    auto schemas =
        std::filesystem::temp_directory_path() / ("sluice-schemas-" + std::to_string(::getpid()));
    std::filesystem::create_directories(schemas / "user.created");
    std::filesystem::copy(SLUICE_SOURCE_DIR "/schemas/user.created", schemas / "user.created",
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    test::broker_config cfg(redis.url(), {}, schemas.string());
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    // v3 makes `name` required: events valid under v2 would be refused.
    std::ofstream(schemas / "user.created" / "v3.json")
        << R"({"type":"object","required":["user_id","email","name"],"properties":{"user_id":{"type":"string"},)"
           R"("email":{"type":"string"},"name":{"type":"string"}}})";
    broker->signal(SIGHUP);
    CHECK(broker->wait_for_output("config reload refused", 5s));
    CHECK_THAT(broker->output(), Contains("v3 breaks backward compatibility with v2"));
    CHECK_THAT(broker->output(), Contains("`name` is required by v3 but not by v2"));
    test::http_connection c(cfg.port);
    auto r = c.request("POST", "/v1/events", structured("after-reload", good_data()),
                       "Content-Type: application/cloudevents+json\r\n");
    CHECK(r.status == 201);
    CHECK_THAT(r.body, Contains(R"("version":2)"));  // the registry of before the reload
    std::filesystem::remove_all(schemas);
}

namespace {

// The fields of the newest entry of a stream, from redis-cli's XREVRANGE output
// (id line, then alternating field and value lines).
std::map<std::string, std::string> newest_fields(test::redis_server& redis,
                                                 const std::string& stream) {
    auto out = redis.cli({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= out.size()) {
        auto end = out.find('\n', start);
        lines.push_back(
            out.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    std::map<std::string, std::string> fields;
    for (std::size_t i = 1; i + 1 < lines.size(); i += 2) fields[lines[i]] = lines[i + 1];
    return fields;
}

}  // namespace

TEST_CASE("each mode stores exactly what was sent, field by field", "[publish][redis]") {
    running_broker b;
    const std::string stream = "sluice:{user.created}:events";
    const std::string data =
        std::string(R"({"user_id":")") + user_uuid + R"(","email":"ada@example.com","name":"Ada"})";
    const std::string spaced = std::string("{ \"user_id\" : \"") + user_uuid +
                               "\",\n  \"email\": \"ada@example.com\", \"name\": \"Ada\" }";

    SECTION("structured") {
        auto r = b.post(
            "application/cloudevents+json",
            R"({"specversion":"1.0","type":"user.created","source":"/crm","id":"s-1","version":1,)"
            R"("time":"2026-11-27T10:00:00Z","subject":"user/7","tracestate":"k=v",)"
            R"("traceparent":")" +
                std::string(traceparent) + R"(","data":)" + spaced + "}");
        REQUIRE(r.status == 201);
        auto f = newest_fields(b.redis, stream);
        CHECK(f["specversion"] == "1.0");
        CHECK(f["id"] == "s-1");
        CHECK(f["source"] == "/crm");
        CHECK(f["type"] == "user.created");
        CHECK(f["version"] == "1");
        CHECK(f["time"] == "2026-11-27T10:00:00Z");
        CHECK(f["subject"] == "user/7");
        CHECK(f["datacontenttype"] == "application/json");
        CHECK(f["traceparent"] == traceparent);
        CHECK(f["tracestate"] == "k=v");
        CHECK(f["data"] == data);  // minified, otherwise as sent
        CHECK(f.size() == 11);
    }
    SECTION("binary, trace context from the HTTP headers") {
        auto r = b.post(
            "application/json", spaced,
            "ce-specversion: 1.0\r\nce-type: user.created\r\nce-id: b-1\r\nce-source: /bin\r\n"
            "ce-version: 2\r\ntraceparent: " +
                std::string(traceparent) + "\r\ntracestate: a=b\r\n");
        REQUIRE(r.status == 201);
        auto f = newest_fields(b.redis, stream);
        CHECK(f["id"] == "b-1");
        CHECK(f["source"] == "/bin");
        CHECK(f["version"] == "2");
        CHECK(f["traceparent"] == traceparent);
        CHECK(f["tracestate"] == "a=b");
        CHECK(f["data"] == data);
        CHECK(f["time"].size() == 24);  // filled: 2026-11-27T10:00:00.000Z
    }
    SECTION("envelope, everything filled by the broker") {
        auto r = b.post("application/json", R"({"type":"user.created","data":)" + spaced + "}");
        REQUIRE(r.status == 201);
        auto f = newest_fields(b.redis, stream);
        CHECK(f["id"].size() == 36);
        CHECK(f["id"][14] == '7');  // a UUIDv7
        CHECK(f["source"] == "sluice");
        CHECK(f["version"] == "2");
        CHECK(f["data"] == data);
        CHECK(f.count("traceparent") == 0);
    }
    SECTION("batch") {
        std::string batch = "[" + structured("x-1", spaced) + "," + structured("x-2", spaced) + "]";
        auto r = b.post("application/cloudevents-batch+json", batch);
        REQUIRE(r.status == 200);
        auto f = newest_fields(b.redis, stream);
        CHECK(f["id"] == "x-2");
        CHECK(f["source"] == "/tests");
        CHECK(f["data"] == data);
        CHECK(b.redis.cli({"XLEN", stream}) == "2");
    }
}
