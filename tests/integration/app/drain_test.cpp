// Graceful drain under load: publishers and group subscribers running, SIGTERM, then
// count. The real binary, a real redis-server, real HTTP and WebSocket clients.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto drain_delay = 1s;
constexpr auto grace_period = 5s;

// ack_timeout is long on purpose: an unacked event can come back within this test
// only if the drain released it in Redis (made it due at once), not by its deadline.
const std::string config = R"(shutdown:
  drain_delay: 1s
  grace_period: 5s
types:
  user.created:
    delivery:
      ack_timeout: 60s
      retry_backoff: 100ms
      retry_backoff_max: 400ms
      max_deliveries: 10
)";

const std::string stream = "sluice:{user.created}:events";

std::string user(int n) {
    char id[40];
    std::snprintf(id, sizeof id, "0f8c3e2a-6b1d-4c9e-9a57-%012d", n);
    return std::string(R"({"type":"user.created","version":1,"data":{"user_id":")") + id +
           R"(","email":"u)" + std::to_string(n) + R"(@example.com"}})";
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// Every entry id of the type's stream.
std::set<std::string> stream_ids(test::redis_server& redis) {
    auto out = redis.cli({"EVAL",
                          "local ids = {} for i, e in ipairs(redis.call(\"XRANGE\", KEYS[1], "
                          "\"-\", \"+\")) do ids[i] = e[1] end return ids",
                          "1", stream});
    auto l = lines(out);
    return {l.begin(), l.end()};
}

// The group's pending entries: id -> idle milliseconds.
std::map<std::string, long long> pending(test::redis_server& redis, const std::string& group) {
    auto l = lines(redis.cli({"XPENDING", stream, group, "-", "+", "1000000"}));
    std::map<std::string, long long> out;
    for (std::size_t i = 0; i + 3 < l.size(); i += 4) out[l[i]] = std::stoll(l[i + 2]);
    return out;
}

// Posts events on keep-alive connections until told to stop, reconnecting after
// any failure; remembers the entry id of every 2xx answer and when it came.
struct publisher {
    std::uint16_t port;
    int first_n;
    std::atomic<bool>& stop;
    std::vector<std::pair<std::string, clock_type::time_point>> stored;
    int failures = 0;

    void run() {
        std::unique_ptr<test::http_connection> c;
        for (int n = first_n; !stop; ++n) {
            try {
                if (!c) c = std::make_unique<test::http_connection>(port, 2s);
                auto r =
                    c->request("POST", "/v1/events", user(n), "Content-Type: application/json\r\n");
                if (r.status / 100 == 2)
                    stored.emplace_back(test::json_string(r.body, "entry"), clock_type::now());
                else
                    ++failures;
                if (!r.keep_alive) c.reset();
            } catch (const std::exception&) {
                ++failures;  // refused once the listener closed, or cut by the drain
                c.reset();
                std::this_thread::sleep_for(10ms);
            }
            std::this_thread::sleep_for(2ms);  // load, not a flood: the machine is shared
        }
    }
};

// A group member that holds the first `hold` events it gets and acks the rest, until
// the server closes the socket (or the test stops it).
struct subscriber {
    std::unique_ptr<test::ws_client> ws;
    std::size_t hold;
    std::atomic<bool>* stop;
    std::set<std::string> held, acked;

    void run() {
        while (!*stop) {
            auto f = ws->receive_op("event", 200ms);
            if (!f) {
                if (ws->close_code() != 0) return;
                continue;
            }
            auto entry = test::json_string(*f, "entry");
            if (held.size() < hold) {
                held.insert(entry);
            } else {
                acked.insert(entry);
                try {
                    ws->send(R"({"op":"ack","sub":"s","entries":[")" + entry + R"("]})");
                } catch (const std::exception&) {
                    return;  // the server closed the socket meanwhile: the ack is lost
                }
            }
        }
    }
};

}  // namespace

TEST_CASE(
    "SIGTERM under load: 503 first, then the door closes. Every 2xx publish is in Redis, "
    "sockets get 1001, and unacked events are delivered again after a restart",
    "[daemon][redis][drain]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(), config);
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);

    std::atomic<bool> stop{false};
    std::vector<subscriber> subscribers(3);
    for (auto& s : subscribers) {
        s.ws = std::make_unique<test::ws_client>(cfg.port);
        s.hold = 10;
        s.stop = &stop;
        s.ws->send(R"({"op":"subscribe","id":"s","type":"user.created","group":"g","window":30})");
        REQUIRE(s.ws->receive_op("subscribed"));
    }
    std::vector<publisher> publishers;
    for (int i = 0; i < 3; ++i) publishers.push_back({cfg.port, i * 1'000'000, stop, {}, 0});
    std::vector<std::thread> threads;
    // Joined however the test ends: a failed REQUIRE must not leave threads running.
    struct joiner {
        std::atomic<bool>& stop;
        std::vector<std::thread>& threads;
        ~joiner() {
            stop = true;
            for (auto& t : threads)
                if (t.joinable()) t.join();
        }
    } join_at_exit{stop, threads};
    for (auto& p : publishers) threads.emplace_back([&p] { p.run(); });
    for (auto& s : subscribers) threads.emplace_back([&s] { s.run(); });

    std::this_thread::sleep_for(1500ms);  // under load
    auto sigterm = clock_type::now();
    broker->signal(SIGTERM);

    // During the drain delay: /readyz says 503 at once, yet new connections are still
    // accepted and publishes on them stored.
    std::this_thread::sleep_for(200ms);
    test::http_reply readyz, late_publish;
    std::string late_error;
    try {
        readyz = test::http_get(cfg.port, "/readyz");
        test::http_connection late(cfg.port);
        late_publish = late.request("POST", "/v1/events", user(9'999'999),
                                    "Content-Type: application/json\r\n");
    } catch (const std::exception& e) {
        late_error = e.what();
    }
    CHECK(late_error == "");
    CHECK(readyz.status == 503);
    CHECK_THAT(readyz.body, Contains("draining"));
    CHECK(late_publish.status == 201);
    CHECK(clock_type::now() - sigterm < drain_delay);  // the checks above ran inside it

    auto code = broker->wait(drain_delay + grace_period + 2s);
    auto took = clock_type::now() - sigterm;
    stop = true;
    for (auto& t : threads) t.join();
    auto log = broker->output();
    INFO("the broker's last lines:\n" << log.substr(log.size() > 2000 ? log.size() - 2000 : 0));
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(took < drain_delay + grace_period);
    CHECK(took >= drain_delay);
    CHECK_THAT(broker->output(), Contains("\"msg\":\"closing the listener\""));

    // Every publish answered 2xx is in the stream.
    auto in_redis = stream_ids(redis);
    std::size_t stored = 0, missing = 0, during_delay = 0;
    for (const auto& p : publishers)
        for (const auto& [id, when] : p.stored) {
            ++stored;
            if (!in_redis.count(id)) ++missing;
            if (when > sigterm) ++during_delay;
        }
    auto late_entry = test::json_string(late_publish.body, "entry");
    if (!late_entry.empty()) CHECK(in_redis.count(late_entry) == 1);
    INFO("stored " << stored << ", of them after SIGTERM " << during_delay << ", stream "
                   << in_redis.size());
    CHECK(stored > 300);
    CHECK(during_delay > 50);  // publishers went on during the delay
    CHECK(missing == 0);

    // Every socket was closed with 1001; the events they held are still pending, made
    // due at once (idle past the 60 s ack timeout) rather than waiting for it.
    std::set<std::string> held;
    std::size_t acked = 0;
    for (auto& s : subscribers) {
        CHECK(s.ws->close_code() == 1001);
        CHECK(s.ws->close_reason() == "server shutting down");
        CHECK(s.held.size() == s.hold);
        held.insert(s.held.begin(), s.held.end());
        acked += s.acked.size();
    }
    CHECK(acked > 100);
    auto pel = pending(redis, "g");
    for (const auto& id : held) {
        INFO(id);
        REQUIRE(pel.count(id) == 1);
        CHECK(pel[id] >= 60'000);
    }

    // A new broker on the same Redis delivers every held event again.
    test::broker_config next_cfg(redis.url(), config);
    auto next = test::start_broker(next_cfg);
    REQUIRE(test::wait_for_status(next_cfg.port, "/readyz", 200, 5s).status == 200);
    test::ws_client c(next_cfg.port);
    c.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"g","window":200})");
    REQUIRE(c.receive_op("subscribed"));
    std::set<std::string> again;
    std::size_t received = 0;
    auto deadline = clock_type::now() + 30s;
    while (again.size() < held.size() && clock_type::now() < deadline) {
        auto f = c.receive_op("event", 1s);
        if (!f) continue;
        ++received;
        auto entry = test::json_string(*f, "entry");
        if (held.count(entry)) {
            CHECK(test::json_int(*f, "delivery") >= 2);
            again.insert(entry);
        }
        c.send(R"({"op":"ack","sub":"s","entries":[")" + entry + R"("]})");
    }
    INFO("held " << held.size() << ", delivered again " << again.size() << ", received "
                 << received);
    CHECK(again == held);
    next->signal(SIGTERM);
    CHECK(next->wait(5s) == 0);
}
