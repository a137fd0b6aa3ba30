// Background delivery tasks that fail are restarted and delivery resumes. The broker
// runs in this process (so a test can make one of its tasks throw, through
// net::arm_failure), on real sockets and a real redis-server.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "app/broker.hpp"
#include "config/loader.hpp"
#include "integration/deliver/delivery_broker.hpp"
#include "net/supervise.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

using test::fast_delivery;

// A broker on its own thread of this process; stopped by SIGTERM (it drains).
struct in_process_broker {
    test::broker_config cfg;
    std::thread thread;
    int exit_code = -1;

    explicit in_process_broker(const std::string& redis_url) : cfg(redis_url, fast_delivery) {
        auto env = config::process_environment();
        auto settings = config::load_file(cfg.file.string(), env);
        thread = std::thread([this, settings, env] {
            exit_code = app::broker(settings, cfg.file.string(), env).run();
        });
        REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 10s).status == 200);
    }
    ~in_process_broker() {
        ::kill(::getpid(), SIGTERM);
        thread.join();
    }
    std::string publish(int n) {
        test::http_connection c(cfg.port);
        auto r = c.request("POST", "/v1/events", test::user_event(n),
                           "Content-Type: application/json\r\n");
        REQUIRE(r.status == 201);
        return test::json_string(r.body, "entry");
    }
    std::string metrics_with(const std::string& needle) {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        std::string text;
        do {
            text = test::http_get(cfg.port, "/metrics").body;
            if (text.find(needle) != std::string::npos) break;
            std::this_thread::sleep_for(50ms);
        } while (std::chrono::steady_clock::now() < deadline);
        return text;
    }
};

void subscribe(test::ws_client& c, const std::string& group) {
    std::string f = R"({"op":"subscribe","id":"s","type":"user.created")";
    if (!group.empty()) f += R"(,"group":")" + group + "\"";
    c.send(f + "}");
    REQUIRE(c.receive_op("subscribed"));
}

std::string entry_of(const std::optional<std::string>& frame) {
    REQUIRE(frame);
    return test::json_string(*frame, "entry");
}

}  // namespace

TEST_CASE("a group reader that fails is restarted and the group is fed again", "[deliver]") {
    test::redis_server redis;
    in_process_broker b(redis.url());
    test::ws_client c(b.cfg.port);
    subscribe(c, "billing");
    auto first = b.publish(1);
    CHECK(entry_of(c.receive_op("event")) == first);
    // The read loop fails as it starts its next read; it is restarted after a backoff.
    net::arm_failure("group_reader");
    b.publish(2);
    b.publish(3);
    std::set<std::string> got;
    for (int i = 0; i < 2; ++i) got.insert(entry_of(c.receive_op("event")));
    CHECK(got.size() == 2);
    CHECK_THAT(b.metrics_with(R"(sluice_task_restarts_total{task="group_reader"} 1)"),
               Contains(R"(sluice_task_restarts_total{task="group_reader"} 1)"));
}

TEST_CASE("a sweeper that fails is restarted and redeliveries come back", "[deliver]") {
    test::redis_server redis;
    in_process_broker b(redis.url());
    test::ws_client c(b.cfg.port);
    subscribe(c, "billing");
    net::arm_failure("group_sweeper", 3);
    auto id = b.publish(1);
    CHECK(entry_of(c.receive_op("event")) == id);
    // A nack with no delay: due after its backoff, taken over by the claim script,
    // which only the (restarted) sweeper runs.
    c.send(R"({"op":"nack","sub":"s","entries":[")" + id + R"("],"delay_ms":0})");
    auto again = c.receive_op("event", 5s);
    CHECK(entry_of(again) == id);
    CHECK_THAT(*again, Contains(R"("delivery":2)"));
    CHECK_THAT(b.metrics_with(R"(sluice_task_restarts_total{task="group_sweeper"} 3)"),
               Contains(R"(sluice_task_restarts_total{task="group_sweeper"} 3)"));
}

TEST_CASE("a tail watch that fails is restarted and fan-out goes on", "[deliver]") {
    test::redis_server redis;
    in_process_broker b(redis.url());
    test::ws_client c(b.cfg.port);
    subscribe(c, "");
    auto first = b.publish(1);
    CHECK(entry_of(c.receive_op("event")) == first);
    net::arm_failure("tail_watch");
    auto second = b.publish(2);
    auto third = b.publish(3);
    CHECK(entry_of(c.receive_op("event")) == second);
    CHECK(entry_of(c.receive_op("event")) == third);
    CHECK_THAT(b.metrics_with(R"(sluice_task_restarts_total{task="tail_watch"} 1)"),
               Contains(R"(sluice_task_restarts_total{task="tail_watch"} 1)"));
}

TEST_CASE("a WebSocket message whose handling throws closes that connection alone with 1011",
          "[deliver]") {
    test::redis_server redis;
    in_process_broker b(redis.url());
    test::ws_client other(b.cfg.port);
    subscribe(other, "billing");
    test::ws_client c(b.cfg.port);
    net::arm_failure("websocket_message");
    c.send(R"({"op":"subscribe","id":"s","type":"user.created"})");
    REQUIRE(c.wait_closed(5s));
    CHECK(c.close_code() == 1011);
    CHECK(c.close_reason() == "internal error");
    CHECK_THAT(b.metrics_with(R"(sluice_internal_errors_total{where="websocket_session"} 1)"),
               Contains(R"(sluice_internal_errors_total{where="websocket_session"} 1)"));
    // Everyone else is served: the other socket's group, a new socket, HTTP.
    auto id = b.publish(1);
    CHECK(entry_of(other.receive_op("event")) == id);
    test::ws_client again(b.cfg.port);
    subscribe(again, "");
    CHECK(test::http_get(b.cfg.port, "/healthz").status == 200);
}

TEST_CASE("a fan-out feed that fails closes its connection with 1011 instead of going silent",
          "[deliver]") {
    test::redis_server redis;
    in_process_broker b(redis.url());
    test::ws_client c(b.cfg.port);
    net::arm_failure("fanout_feed");
    subscribe(c, "");
    REQUIRE(c.wait_closed(5s));
    CHECK(c.close_code() == 1011);
    CHECK_THAT(b.metrics_with(R"(sluice_internal_errors_total{where="fanout_feed"} 1)"),
               Contains(R"(sluice_internal_errors_total{where="fanout_feed"} 1)"));
    test::ws_client again(b.cfg.port);
    subscribe(again, "");
    auto id = b.publish(1);
    CHECK(entry_of(again.receive_op("event")) == id);
}
