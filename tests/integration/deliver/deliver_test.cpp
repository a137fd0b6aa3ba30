// WebSocket delivery end to end: the real binary (one or two), a real redis-server,
// real WebSocket clients.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "integration/deliver/delivery_broker.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// AddressSanitizer keeps freed memory in quarantine: resident memory says nothing
// about the broker's own use there, so the memory checks apply to normal builds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool under_sanitizer = true;
#else
constexpr bool under_sanitizer = false;
#endif

using test::fast_delivery;

using broker = test::delivery_broker;

std::string subscribe_frame(const std::string& id, const std::string& group,
                            const std::string& extra = {}) {
    std::string f = R"({"op":"subscribe","id":")" + id + R"(","type":"user.created")";
    if (!group.empty()) f += R"(,"group":")" + group + "\"";
    return f + extra + "}";
}

std::string ack_frame(const std::string& sub, const std::string& entry) {
    return R"({"op":"ack","sub":")" + sub + R"(","entries":[")" + entry + R"("]})";
}

void subscribe(test::ws_client& c, const std::string& id, const std::string& group,
               const std::string& extra = {}) {
    c.send(subscribe_frame(id, group, extra));
    auto r = c.receive_op("subscribed");
    REQUIRE(r);
}

// Counts pending entries of a group with redis-cli.
long long pending_of(test::redis_server& redis, const std::string& group) {
    auto out = redis.cli({"XPENDING", "sluice:{user.created}:events", group});
    return std::stoll(out.substr(0, out.find('\n')));
}

}  // namespace

TEST_CASE("fan-out subscriptions get every event from their position, in order", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    auto first = b.publish(1);
    b.publish(2);

    test::ws_client from_start(b.cfg.port), from_new(b.cfg.port), from_entry(b.cfg.port);
    subscribe(from_start, "a", "", R"(,"from":"start")");
    subscribe(from_new, "b", "");
    subscribe(from_entry, "c", "", R"(,"from":")" + first + R"(")");
    b.publish(3);

    for (int n : {1, 2, 3}) {
        auto f = from_start.receive_op("event");
        REQUIRE(f);
        CHECK(test::json_string(*f, "sub") == "a");
        CHECK_THAT(*f, Contains("u" + std::to_string(n) + "@example.com"));
        CHECK_THAT(*f, Contains(R"("type":"user.created")"));
        CHECK_THAT(*f, Contains(R"("version":1)"));
    }
    auto only = from_new.receive_op("event");
    REQUIRE(only);
    CHECK_THAT(*only, Contains("u3@example.com"));
    CHECK_FALSE(from_new.receive_op("event", 300ms));
    for (int n : {1, 2, 3}) {
        auto f = from_entry.receive_op("event");
        REQUIRE(f);
        CHECK_THAT(*f, Contains("u" + std::to_string(n) + "@example.com"));
    }
}

TEST_CASE("fan-out from a point in time starts at the first event at or after it", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    b.publish(1);
    std::this_thread::sleep_for(20ms);
    auto second = b.publish(2);
    auto ms = std::stoull(second.substr(0, second.find('-')));
    // The RFC 3339 time of the second entry.
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", std::gmtime(&secs));
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03lluZ", static_cast<unsigned long long>(ms % 1000));
    test::ws_client c(b.cfg.port);
    subscribe(c, "t", "", std::string(R"(,"from":")") + text + frac + "\"");
    auto f = c.receive_op("event");
    REQUIRE(f);
    CHECK(test::json_string(*f, "entry") == second);
}

TEST_CASE("competing consumers of a group get disjoint sets that cover every event", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client one(b.cfg.port), two(b.cfg.port);
    subscribe(one, "s", "billing", R"(,"window":5)");
    subscribe(two, "s", "billing", R"(,"window":5)");
    constexpr int total = 60;
    std::set<std::string> published;
    for (int n = 0; n < total; ++n) published.insert(b.publish(n));

    // Catch2's assertions are not thread-safe: the drains count repeats, checked after.
    std::set<std::string> got_one, got_two;
    int repeats_one = 0, repeats_two = 0;
    auto drain = [](test::ws_client& c, std::set<std::string>& got, int& repeats) {
        while (auto f = c.receive_op("event", 500ms)) {
            auto entry = test::json_string(*f, "entry");
            if (!got.insert(entry).second) ++repeats;
            c.send(ack_frame("s", entry));
        }
    };
    std::thread t([&] { drain(two, got_two, repeats_two); });
    drain(one, got_one, repeats_one);
    t.join();
    CHECK(repeats_one == 0);
    CHECK(repeats_two == 0);
    CHECK_FALSE(got_one.empty());
    CHECK_FALSE(got_two.empty());
    for (const auto& e : got_one) CHECK(got_two.count(e) == 0);
    std::set<std::string> all = got_one;
    all.insert(got_two.begin(), got_two.end());
    CHECK(all == published);
    std::this_thread::sleep_for(200ms);
    CHECK(pending_of(redis, "billing") == 0);

    auto metrics = test::http_get(b.cfg.port, "/metrics").body;
    CHECK_THAT(
        metrics,
        Contains(
            R"(sluice_delivery_events_total{event="delivered",group="billing",type="user.created"} 60)"));
    CHECK_THAT(
        metrics,
        Contains(
            R"(sluice_delivery_events_total{event="acked",group="billing",type="user.created"} 60)"));
    CHECK_THAT(metrics, Contains("sluice_websocket_connections 2"));
    CHECK_THAT(metrics, Contains("sluice_websocket_subscriptions 2"));
    CHECK_THAT(metrics, Contains("sluice_delivery_latency_seconds_count 60"));
}

TEST_CASE("the window bounds unacknowledged deliveries and the rest waits in Redis", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    subscribe(c, "w", "g", R"(,"window":3)");
    for (int n = 0; n < 20; ++n) b.publish(n);
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
        auto f = c.receive_op("event");
        REQUIRE(f);
        got.push_back(test::json_string(*f, "entry"));
    }
    CHECK_FALSE(c.receive_op("event", 400ms));
    CHECK(pending_of(redis, "g") == 3);
    c.send(ack_frame("w", got[0]));
    auto next = c.receive_op("event");
    REQUIRE(next);
    CHECK_FALSE(c.receive_op("event", 300ms));
}

TEST_CASE("a slow consumer is paused: its events wait in Redis, not in the broker", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    subscribe(c, "slow", "g", R"(,"window":10)");
    c.pause_reading();
    auto rss = [&] { return b.process->resident_kib(); };
    for (int n = 0; n < 200; ++n) b.publish(n);
    auto before = rss();
    for (int n = 200; n < 2200; ++n) b.publish(n);
    auto after = rss();
    CHECK(pending_of(redis, "g") == 10);
    // 2000 more events (~0.5 MB as frames) must not be buffered by the broker.
    if (!under_sanitizer) CHECK(after < before + 2048);
    c.resume_reading();
    int received = 0;
    while (c.receive_op("event", 300ms)) ++received;
    CHECK(received == 10);
}

TEST_CASE("events a consumer took without acking go to another member when it leaves",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), fast_delivery);
    auto leaver = std::make_unique<test::ws_client>(b.cfg.port);
    subscribe(*leaver, "s", "g", R"(,"window":10)");
    auto entry = b.publish(1);
    auto f = leaver->receive_op("event");
    REQUIRE(f);
    CHECK(test::json_int(*f, "delivery") == 1);

    test::ws_client stayer(b.cfg.port);
    subscribe(stayer, "s", "g");
    leaver->drop();
    auto again = stayer.receive_op("event", 5s);
    REQUIRE(again);
    CHECK(test::json_string(*again, "entry") == entry);
    CHECK(test::json_int(*again, "delivery") == 2);
    stayer.send(ack_frame("s", entry));
    std::this_thread::sleep_for(200ms);
    CHECK(pending_of(redis, "g") == 0);
}

TEST_CASE("an event not acked by its deadline is delivered again, with backoff", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), fast_delivery);
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g", R"(,"ack_timeout_ms":300)");
    auto entry = b.publish(1);
    REQUIRE(c.receive_op("event"));
    auto start = std::chrono::steady_clock::now();
    auto again = c.receive_op("event", 5s);
    REQUIRE(again);
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(test::json_int(*again, "delivery") == 2);
    CHECK(waited >= 300ms);  // deadline, then the first backoff
}

TEST_CASE("nack with a delay redelivers after the delay, extend keeps an event", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), fast_delivery);
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g", R"(,"ack_timeout_ms":800)");
    auto entry = b.publish(1);
    REQUIRE(c.receive_op("event"));
    auto start = std::chrono::steady_clock::now();
    c.send(R"({"op":"nack","sub":"s","entries":[")" + entry +
           R"("],"delay_ms":500,"reason":"downstream busy"})");
    auto again = c.receive_op("event", 5s);
    REQUIRE(again);
    CHECK(std::chrono::steady_clock::now() - start >= 450ms);
    CHECK(test::json_int(*again, "delivery") == 2);

    // Extend twice across the 800 ms deadline: no redelivery meanwhile.
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(400ms);
        c.send(R"({"op":"extend","sub":"s","entries":[")" + entry + R"("]})");
    }
    CHECK_FALSE(c.receive_op("event", 300ms));
    c.send(ack_frame("s", entry));
    std::this_thread::sleep_for(200ms);
    CHECK(pending_of(redis, "g") == 0);
}

TEST_CASE(
    "after max deliveries an event moves to the dead-letter stream, whole, and can be "
    "requeued",
    "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), fast_delivery);
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g");
    auto entry = b.publish(7);
    for (int delivery = 1; delivery <= 3; ++delivery) {
        auto f = c.receive_op("event", 5s);
        REQUIRE(f);
        CHECK(test::json_int(*f, "delivery") == delivery);
        c.send(R"({"op":"nack","sub":"s","entries":[")" + entry +
               R"("],"delay_ms":0,"reason":"cannot parse the email"})");
    }
    CHECK_FALSE(c.receive_op("event", 1s));
    auto dlq = redis.cli({"XRANGE", "sluice:{user.created}:dlq", "-", "+"});
    CHECK_THAT(dlq, Contains("u7@example.com"));
    CHECK_THAT(dlq, Contains("dlq_entry\n" + entry));
    CHECK_THAT(dlq, Contains("dlq_group\ng"));
    CHECK_THAT(dlq, Contains("dlq_deliveries\n3"));
    CHECK_THAT(dlq, Contains("dlq_reason\ncannot parse the email"));
    CHECK(pending_of(redis, "g") == 0);

    test::http_connection h(b.cfg.port);
    auto r = h.request("POST", "/v1/dlq/user.created/requeue", R"({"all":true})",
                       "Content-Type: application/json\r\n");
    REQUIRE(r.status == 200);
    auto back = c.receive_op("event", 5s);
    REQUIRE(back);
    CHECK_THAT(*back, Contains("u7@example.com"));
    CHECK(test::json_int(*back, "delivery") == 1);
    c.send(ack_frame("s", test::json_string(*back, "entry")));
    std::this_thread::sleep_for(200ms);
    CHECK(pending_of(redis, "g") == 0);
    CHECK(redis.cli({"XLEN", "sluice:{user.created}:dlq"}) == "0");
}

TEST_CASE("protocol errors are answered with a code and the socket stays usable", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    auto expect = [&](const std::string& frame, const std::string& code) {
        c.send(frame);
        auto e = c.receive_op("error");
        REQUIRE(e);
        CHECK(test::json_string(*e, "code") == code);
    };
    expect("{not json", "malformed_json");
    expect(R"({"op":"dance"})", "unknown_op");
    expect(R"({"op":"subscribe","id":"x","type":"nope"})", "unknown_type");
    expect(R"({"op":"subscribe","id":"x","type":"user.created","from":"yesterday"})",
           "invalid_position");
    expect(R"({"op":"subscribe","id":"x","type":"user.created","group":"a b"})", "invalid_group");
    expect(R"({"op":"subscribe","id":"x","type":"user.created","window":0})", "invalid_frame");
    expect(R"({"op":"ack","sub":"nope","entries":["1-0"]})", "unknown_subscription");
    expect(R"({"op":"ack","sub":"x","entries":["not-an-id"]})", "invalid_frame");
    subscribe(c, "f", "");
    expect(R"({"op":"ack","sub":"f","entries":["1-0"]})", "not_a_group_subscription");
    expect(subscribe_frame("f", ""), "duplicate_subscription");
    c.send(R"({"op":"unsubscribe","sub":"f"})");
    REQUIRE(c.receive_op("unsubscribed"));
    subscribe(c, "f", "");  // the name is free again

    auto plain = test::http_get(b.cfg.port, "/v1/ws");
    CHECK(plain.status == 426);
}

TEST_CASE("SIGTERM closes WebSockets with 1001 and their events stay pending", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g");
    b.publish(1);
    REQUIRE(c.receive_op("event"));
    ::kill(b.process->pid(), SIGTERM);
    REQUIRE(c.wait_closed(5s));
    CHECK(c.close_code() == 1001);
    CHECK(b.process->wait(5s) == 0);
    CHECK(pending_of(redis, "g") == 1);
}

TEST_CASE(
    "two instances share a group, and a killed one's events are redelivered by the "
    "other",
    "[deliver]") {
    test::redis_server redis;
    broker a(redis.url(), fast_delivery), b(redis.url(), fast_delivery);
    test::ws_client on_a(a.cfg.port), on_b(b.cfg.port);
    subscribe(on_a, "s", "shared", R"(,"window":20)");
    subscribe(on_b, "s", "shared", R"(,"window":20)");

    // a's consumer never acks; b's acks everything it gets.
    std::set<std::string> published, acked_by_b;
    std::mutex acked_mutex;  // acked_by_b: written by the consumer, read by the wait below
    auto acked = [&] {
        std::lock_guard lock(acked_mutex);
        return acked_by_b.size();
    };
    std::atomic<bool> done{false};
    std::thread consumer([&] {
        while (!done) {
            auto f = on_b.receive_op("event", 200ms);
            if (!f) continue;
            auto entry = test::json_string(*f, "entry");
            {
                std::lock_guard lock(acked_mutex);
                acked_by_b.insert(entry);
            }
            on_b.send(ack_frame("s", entry));
        }
    });
    constexpr int total = 200;
    for (int n = 0; n < total; ++n) {
        // Half through, instance a dies with whatever it had handed out.
        if (n == total / 2) ::kill(a.process->pid(), SIGKILL);
        published.insert(n % 2 && n < total / 2 ? a.publish(n) : b.publish(n));
    }
    // Everything a held comes back to b after the ack timeout plus backoff.
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
        if (pending_of(redis, "shared") == 0 && acked() >= published.size()) break;
    }
    done = true;
    consumer.join();
    CHECK(pending_of(redis, "shared") == 0);
    for (const auto& e : published) CHECK(acked_by_b.count(e) == 1);
}

TEST_CASE("an ack that comes after the local deadline still forgets the nack reason", "[deliver]") {
    // A long backoff: the event is not redelivered between the deadline and the ack.
    test::redis_server redis;
    broker b(redis.url(), R"(types:
  user.created:
    delivery:
      ack_timeout: 1s
      retry_backoff: 5s
      retry_backoff_max: 5s
      max_deliveries: 5
)");
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g", R"(,"ack_timeout_ms":300)");
    auto entry = b.publish(1);
    REQUIRE(c.receive_op("event"));
    c.send(R"({"op":"nack","sub":"s","entries":[")" + entry +
           R"("],"delay_ms":0,"reason":"try again"})");
    auto again = c.receive_op("event", 5s);
    REQUIRE(again);
    CHECK(test::json_int(*again, "delivery") == 2);
    CHECK(redis.cli({"HLEN", "sluice:{user.created}:nack"}) == "1");
    std::this_thread::sleep_for(800ms);  // past the subscription's 300 ms deadline
    c.send(ack_frame("s", entry));
    std::this_thread::sleep_for(300ms);
    CHECK(pending_of(redis, "g") == 0);
    // docs/storage.md: the reason is removed when the entry is acked.
    CHECK(redis.cli({"HLEN", "sluice:{user.created}:nack"}) == "0");
}

TEST_CASE("extends do not grow a subscription's memory beyond its window", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g", R"(,"window":1)");
    auto entry = b.publish(1);
    REQUIRE(c.receive_op("event"));
    std::string extend = R"({"op":"extend","sub":"s","entries":[)";
    for (int i = 0; i < 1000; ++i) extend += (i ? ",\"" : "\"") + entry + "\"";
    extend += "]}";
    // Frames are handled in order, and a fan-out subscribe asks Redis on the same
    // connection as the extends: its answer means every extend before it was done,
    // so Redis's backlog does not count as the broker's memory.
    int probes = 0;
    auto round_trip = [&] {
        auto id = "probe" + std::to_string(++probes);
        subscribe(c, id, "");
        c.send(R"({"op":"unsubscribe","sub":")" + id + R"("})");
        REQUIRE(c.receive_op("unsubscribed"));
    };
    for (int i = 0; i < 50; ++i) c.send(extend);
    round_trip();
    auto before = b.process->resident_kib();
    for (int batch = 0; batch < 100; ++batch) {
        for (int i = 0; i < 5; ++i) c.send(extend);
        round_trip();
    }
    auto after = b.process->resident_kib();
    // 500,000 extends of one held event: the broker keeps one deadline for it, not
    // one per extend (that would be ~20 MB).
    if (!under_sanitizer) CHECK(after < before + 4096);
    c.send(ack_frame("s", entry));
    for (int i = 0; i < 50 && pending_of(redis, "g") != 0; ++i) std::this_thread::sleep_for(100ms);
    CHECK(pending_of(redis, "g") == 0);
}

TEST_CASE("due redeliveries are not held up by a hundred earlier events still in backoff",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), R"(types:
  user.created:
    delivery:
      ack_timeout: 1s
      retry_backoff: 20s
      retry_backoff_max: 20s
      max_deliveries: 5
)");
    std::vector<std::string> entries;
    auto first = std::make_unique<test::ws_client>(b.cfg.port);
    subscribe(*first, "s", "g", R"(,"window":200)");
    for (int n = 0; n < 130; ++n) entries.push_back(b.publish(n));
    for (int n = 0; n < 130; ++n) REQUIRE(first->receive_op("event"));
    // The 120 oldest come back in 15 s; the 10 newest are due at once when it leaves.
    std::string nack = R"({"op":"nack","sub":"s","delay_ms":15000,"entries":[)";
    for (int n = 0; n < 120; ++n) nack += (n ? ",\"" : "\"") + entries[n] + "\"";
    first->send(nack + "]}");
    first->send(R"({"op":"unsubscribe","sub":"s"})");
    REQUIRE(first->receive_op("unsubscribed"));

    test::ws_client second(b.cfg.port);
    subscribe(second, "s", "g", R"(,"window":5)");
    auto f = second.receive_op("event", 3s);
    REQUIRE(f);
    auto entry = test::json_string(*f, "entry");
    CHECK(std::find(entries.begin() + 120, entries.end(), entry) != entries.end());
}

TEST_CASE("a frame repeating one id costs one Redis command, not one per copy", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client c(b.cfg.port);
    subscribe(c, "s", "g");
    auto entry = b.publish(1);
    REQUIRE(c.receive_op("event"));
    redis.cli({"CONFIG", "RESETSTAT"});
    std::string ids;
    for (int i = 0; i < 1000; ++i) ids += (i ? ",\"" : "\"") + entry + "\"";
    c.send(R"({"op":"extend","sub":"s","entries":[)" + ids + "]}");
    c.send(R"({"op":"nack","sub":"s","entries":[)" + ids + R"(],"delay_ms":60000})");
    std::this_thread::sleep_for(300ms);
    auto stats = redis.cli({"INFO", "commandstats"});
    auto at = stats.find("cmdstat_xclaim:calls=");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoi(stats.substr(at + 21)) == 2);  // one for the extend, one for the nack
}

TEST_CASE("fan-out subscribers at the stream's end share the watch's reads", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    std::vector<std::unique_ptr<test::ws_client>> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(std::make_unique<test::ws_client>(b.cfg.port));
        subscribe(*clients.back(), "f", "");
    }
    std::this_thread::sleep_for(200ms);
    redis.cli({"CONFIG", "RESETSTAT"});
    std::vector<std::string> entries;
    for (int n = 0; n < 50; ++n) entries.push_back(b.publish(n));
    for (auto& c : clients)
        for (const auto& entry : entries) {
            auto f = c->receive_op("event");
            REQUIRE(f);
            CHECK(test::json_string(*f, "entry") == entry);
        }
    auto stats = redis.cli({"INFO", "commandstats"});
    auto at = stats.find("cmdstat_xread:calls=");
    REQUIRE(at != std::string::npos);
    // One read per subscriber per event would be 1000; the watch's reads are shared.
    CHECK(std::stoi(stats.substr(at + 20)) < 300);
}

TEST_CASE("a large event reaches every subscriber whole, its bytes shared between sockets",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client one(b.cfg.port), two(b.cfg.port);
    subscribe(one, "a", "");
    subscribe(two, "b", "");
    // A subject this long makes the event's JSON several kilobytes (the data's
    // contract bounds its own strings).
    std::string subject(3000, 'x');
    subject[1500] = 'y';
    {
        std::string event =
            R"({"specversion":"1.0","type":"user.created","source":"/t","id":"big-1",)"
            R"("subject":")" +
            subject +
            R"(","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-000000000007",)"
            R"("email":"u7@example.com"}})";
        test::http_connection c(b.cfg.port);
        auto r = c.request("POST", "/v1/events", event,
                           "Content-Type: application/cloudevents+json\r\n");
        REQUIRE(r.status == 201);
    }
    b.publish(8);  // a small one right after, in the same writes
    for (auto* c : {&one, &two}) {
        auto big = c->receive_op("event");
        REQUIRE(big);
        CHECK_THAT(*big, Contains(R"("subject":")" + subject + "\""));
        CHECK_THAT(*big, Contains("u7@example.com"));
        CHECK(big->back() == '}');
        auto small = c->receive_op("event");
        REQUIRE(small);
        CHECK_THAT(*small, Contains("u8@example.com"));
    }
}

TEST_CASE("Redis restarted empty under load: every event acknowledged after it reaches the group",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    test::ws_client consumer(b.cfg.port);
    subscribe(consumer, "s", "billing", R"(,"window":1000)");

    // One publisher, one request at a time on a kept-alive connection, as fast as the
    // broker answers; `after`: the events answered 201 once the old Redis was gone.
    std::atomic<bool> gone{false}, stop{false};
    std::vector<int> after;
    int failed = 0;
    std::thread publisher([&] {
        std::unique_ptr<test::http_connection> c;
        for (int n = 0; !stop; ++n) {
            try {
                if (!c) c = std::make_unique<test::http_connection>(b.cfg.port, 2s);
                auto r = c->request("POST", "/v1/events", test::user_event(n),
                                    "Content-Type: application/json\r\n");
                if (r.status == 201 && gone) after.push_back(n);
                if (r.status != 201) ++failed;
            } catch (const std::exception&) {
                c.reset();
                ++failed;
            }
        }
    });
    // The consumer acks all it gets; it records each event's number (its email).
    // Reads until `d` is over, or (with `quiet`) until no event came for that long.
    std::set<int> received;
    auto consume = [&](std::chrono::milliseconds d, std::chrono::milliseconds quiet) {
        auto end = std::chrono::steady_clock::now() + d;
        while (std::chrono::steady_clock::now() < end) {
            auto f = consumer.receive_op("event", quiet);
            if (!f) {
                if (quiet > 50ms) return;  // drained: nothing came for that long
                continue;
            }
            auto email = test::json_string(*f, "email");  // u<n>@example.com
            if (email.size() > 2) received.insert(std::atoi(email.c_str() + 1));
            consumer.send(ack_frame("s", test::json_string(*f, "entry")));
        }
    };
    auto until = [&](std::chrono::milliseconds d) { consume(d, 50ms); };
    auto drain = [&](std::chrono::milliseconds quiet) { consume(60s, quiet); };
    until(1s);
    redis.kill();
    gone = true;    // set once the old process is dead: any 201 now is the new Redis's
    redis.start();  // empty: no persistence
    until(4s);
    stop = true;
    publisher.join();
    drain(3s);

    INFO("acknowledged after the restart: " << after.size() << ", failed meanwhile: " << failed);
    REQUIRE(after.size() > 500);
    std::size_t missing = 0;
    for (int n : after)
        if (!received.count(n)) ++missing;
    CHECK(missing == 0);
    CHECK_THAT(b.process->output(), Contains("consumer group was missing; created it again"));
}

TEST_CASE(
    "events held by a broker that died are due elsewhere after their subscription's "
    "ack timeout",
    "[deliver]") {
    // The type's ack timeout is the default 30 s; the subscriptions ask for 1 s.
    test::redis_server redis;
    broker dying(redis.url(), "");
    broker other(redis.url(), "");
    test::ws_client held(dying.cfg.port);
    subscribe(held, "s", "billing", R"(,"window":10,"ack_timeout_ms":1000)");
    std::set<std::string> published;
    for (int n = 0; n < 5; ++n) published.insert(dying.publish(n));
    for (int n = 0; n < 5; ++n) REQUIRE(held.receive_op("event"));  // held, never acked
    test::ws_client taker(other.cfg.port);
    subscribe(taker, "s", "billing", R"(,"window":10,"ack_timeout_ms":1000)");
    dying.process->signal(SIGKILL);
    REQUIRE(dying.process->wait(5s));
    // The surviving broker's sweep claims them after 1 s (and a first backoff of 1 s),
    // not after the type's 30 s.
    auto started = std::chrono::steady_clock::now();
    std::set<std::string> again;
    while (again.size() < published.size() && std::chrono::steady_clock::now() - started < 8s)
        if (auto f = taker.receive_op("event", 500ms)) {
            again.insert(test::json_string(*f, "entry"));
            taker.send(ack_frame("s", test::json_string(*f, "entry")));
        }
    CHECK(again == published);
    CHECK(std::chrono::steady_clock::now() - started < 8s);
}
