// Past one Redis, against the real binary and real processes: a master, two replicas
// and three sentinels (redis-server --sentinel); publishes acknowledged only once a
// replica has them (publish.min_replicas); a replica as the target.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/broker_process.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/redis_sentinel.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

const std::string stream_key = "sluice:{user.created}:events";

std::string event_with_id(const std::string& id) {
    return R"({"specversion":"1.0","type":"user.created","source":"/sentinel-test","id":")" + id +
           R"(","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"}})";
}

// Polls `ok` every 50 ms for up to `timeout`.
template <typename F>
bool eventually(F ok, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ok()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

std::vector<std::string> replicaof(const test::redis_server& master) {
    return {"--replicaof", "127.0.0.1", std::to_string(master.port())};
}

// A master that starts a replica's sync at once (not after the default 5 s wait).
const std::vector<std::string> quick_sync{"--repl-diskless-sync-delay", "0"};

// Until `replicas` replicas have finished their first sync.
bool synced(const test::redis_server& master, int replicas) {
    return eventually(
        [&] {
            auto info = master.cli({"INFO", "replication"});
            int online = 0;
            for (auto at = info.find("state=online"); at != std::string::npos;
                 at = info.find("state=online", at + 1))
                ++online;
            return online >= replicas;
        },
        10s);
}

// A master, two replicas and three sentinels that know each other, ready to fail over.
struct sentinel_group {
    test::redis_server master{quick_sync};
    test::redis_server replica1{replicaof(master)};
    test::redis_server replica2{replicaof(master)};
    std::vector<std::unique_ptr<test::redis_sentinel>> sentinels;

    sentinel_group() {
        REQUIRE(synced(master, 2));
        for (int i = 0; i < 3; ++i)
            sentinels.push_back(std::make_unique<test::redis_sentinel>(master.port()));
        // Each sentinel must see the other two (hello messages, every 2 s) and both
        // replicas before a failover can be agreed.
        for (auto& s : sentinels) {
            REQUIRE(eventually(
                [&] {
                    auto info = s->cli({"SENTINEL", "MASTER", "mymaster"});
                    return info.find("num-other-sentinels\n2") != std::string::npos &&
                           info.find("num-slaves\n2") != std::string::npos;
                },
                15s));
        }
    }
    std::string url() const {
        std::string out = "redis+sentinel://";
        for (std::size_t i = 0; i < sentinels.size(); ++i)
            out += (i ? "," : "") + sentinels[i]->address();
        return out + "/mymaster";
    }
};

// /readyz once its answer says `reason` (the first answers say "not connected yet",
// before the clients have asked anything), or its last answer after 5 s.
test::http_reply readyz_saying(std::uint16_t port, const std::string& reason) {
    test::http_reply ready;
    eventually(
        [&] {
            ready = test::http_get(port, "/readyz");
            return ready.body.find(reason) != std::string::npos;
        },
        5s);
    return ready;
}

test::http_reply publish(test::http_connection& c, const std::string& id) {
    return c.request("POST", "/v1/events", event_with_id(id),
                     "Content-Type: application/cloudevents+json\r\n");
}

}  // namespace

TEST_CASE("sentinel: the broker follows a kill -9 failover and loses no acknowledged event",
          "[app][sentinel]") {
    sentinel_group g;
    test::broker_config cfg(g.url(), "publish:\n  min_replicas: 1\n  replica_timeout: 500ms\n");
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 10s).status == 200);
    CHECK_THAT(broker->output(), Contains("(master mymaster)"));
    auto old_master = g.master.port();

    // A group consumer acks what it gets, all along, on a thread of its own; ack
    // timeout 2 s, so what the failover cut off is delivered again soon.
    test::ws_client consumer(cfg.port);
    consumer.send(
        R"({"op":"subscribe","id":"s","type":"user.created","group":"billing","from":"start",)"
        R"("window":500,"ack_timeout_ms":2000})");
    REQUIRE(consumer.receive_op("subscribed"));
    std::atomic<bool> stop_consuming{false};
    std::set<std::string> delivered;
    std::mutex delivered_mutex;
    std::thread consuming([&] {
        while (!stop_consuming) {
            auto f = consumer.receive_op("event", 200ms);
            if (!f) continue;
            auto at = f->find("\"id\":\"ack-");
            if (at != std::string::npos) {
                auto id = f->substr(at + 6, f->find('"', at + 6) - at - 6);
                std::lock_guard lock(delivered_mutex);
                delivered.insert(id);
            }
            auto entry = test::json_string(*f, "entry");
            consumer.send(R"({"op":"ack","sub":"s","entries":[")" + entry + R"("]})");
        }
    });
    // A failed REQUIRE below must not leave the thread running.
    struct joiner {
        std::atomic<bool>& stop;
        std::thread& t;
        ~joiner() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } join_consumer{stop_consuming, consuming};

    // Publish one event at a time, as a client that retries nothing would, and kill
    // the master under that load; count what was acknowledged.
    std::vector<std::string> acknowledged;
    int refused = 0, after_kill = 0;
    bool killed = false;
    auto started = std::chrono::steady_clock::now();
    std::unique_ptr<test::http_connection> c;
    for (int n = 0; std::chrono::steady_clock::now() - started < 40s; ++n) {
        if (!killed && std::chrono::steady_clock::now() - started > 1500ms) {
            g.master.kill();
            killed = true;
        }
        auto id = "ack-" + std::to_string(n);
        try {
            if (!c) c = std::make_unique<test::http_connection>(cfg.port, 3s);
            auto r = publish(*c, id);
            if (r.status == 201) {
                acknowledged.push_back(id);
                if (killed) ++after_kill;
            } else {
                ++refused;
                REQUIRE(r.status == 503);
                std::this_thread::sleep_for(20ms);
            }
        } catch (const std::exception&) {
            c.reset();
            ++refused;
        }
        if (after_kill >= 200) break;  // following the new master, for a while
    }
    INFO("acknowledged " << acknowledged.size() << ", refused " << refused);
    REQUIRE(killed);
    REQUIRE(after_kill >= 200);

    // Every acknowledged event is on the new master.
    auto new_master = g.sentinels.front()->master_port();
    REQUIRE(new_master != 0);
    CHECK(new_master != old_master);
    auto entries = test::redis_cli(new_master, {"XRANGE", stream_key, "-", "+"});
    std::set<std::string> stored;
    for (std::size_t at = entries.find("ack-"); at != std::string::npos;
         at = entries.find("ack-", at + 1))
        stored.insert(entries.substr(at, entries.find_first_of("\n\"", at) - at));
    std::size_t missing = 0;
    for (const auto& id : acknowledged)
        if (!stored.count(id)) ++missing;
    CHECK(missing == 0);
    CHECK(refused > 0);  // the failover was seen: some publishes were refused meanwhile
    CHECK(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);

    // And every acknowledged event reaches the group (at least once), acked.
    auto all_delivered = [&] {
        std::lock_guard lock(delivered_mutex);
        for (const auto& id : acknowledged)
            if (!delivered.count(id)) return false;
        return true;
    };
    bool reached = eventually(all_delivered, 20s);
    stop_consuming = true;
    consuming.join();  // before `delivered` is read without the lock
    std::size_t undelivered = 0;
    for (const auto& id : acknowledged)
        if (!delivered.count(id)) ++undelivered;
    CHECK(reached);
    CHECK(undelivered == 0);
}

TEST_CASE("min_replicas: 503 not_replicated while no replica confirms, 201 again after",
          "[app][sentinel]") {
    test::redis_server master(quick_sync);
    test::redis_server replica(replicaof(master));
    REQUIRE(synced(master, 1));
    test::broker_config cfg(master.url(), "publish:\n  min_replicas: 1\n  replica_timeout: 1s\n");
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    test::http_connection c(cfg.port);
    CHECK(publish(c, "r-1").status == 201);

    replica.pause();  // alive to the master, answering nothing
    auto r = publish(c, "r-2");
    CHECK(r.status == 503);
    CHECK_THAT(r.body, Contains("\"code\":\"not_replicated\""));
    CHECK(r.header("Retry-After") == "1");
    // Stored on the master all the same (a retry with the same id stores it once).
    CHECK_THAT(master.cli({"XRANGE", stream_key, "-", "+"}), Contains("r-2"));

    // A requeue of dead letters waits for the replica too: a dead letter put there
    // by hand (the dead-letter stream's own format: event fields, then dlq_ ones).
    master.cli({"XADD", "sluice:{user.created}:dlq", "*", "id", "d-1", "type", "user.created",
                "dlq_entry", "1-0", "dlq_group", "g", "dlq_deliveries", "5", "dlq_reason", "x",
                "dlq_time", "2026-12-02T00:00:00Z"});
    auto requeue = c.request("POST", "/v1/dlq/user.created/requeue", R"({"all":true})",
                             "Content-Type: application/json\r\n");
    CHECK(requeue.status == 503);
    CHECK_THAT(requeue.body, Contains("\"code\":\"not_replicated\""));
    CHECK_THAT(requeue.body, Contains("some dead letters may have been requeued"));

    replica.resume();
    // The retry finds the event stored (200, a duplicate) and now replicated.
    CHECK(eventually([&] { return publish(c, "r-2").status == 200; }, 5s));
    CHECK(publish(c, "r-3").status == 201);
    CHECK(master.cli({"XLEN", stream_key}) == "4");  // r-1, r-2 (once), d-1 requeued, r-3
}

TEST_CASE("a replica as the target: /readyz is 503 and names it", "[app][sentinel]") {
    test::redis_server master;
    test::redis_server replica(replicaof(master));
    test::broker_config cfg(replica.url());
    auto broker = test::start_broker(cfg);
    auto ready = readyz_saying(cfg.port, "is a replica (read-only)");
    CHECK(ready.status == 503);
    CHECK_THAT(ready.body, Contains("is a replica (read-only)"));
    test::http_connection c(cfg.port);
    CHECK(publish(c, "x-1").status == 503);
}

TEST_CASE("sentinels that name no master: /readyz says so, sentinel by sentinel",
          "[app][sentinel]") {
    test::redis_server master;
    test::redis_sentinel knows(master.port(), "mymaster");
    auto nobody = test::free_port();  // no sentinel listens here
    test::broker_config cfg("redis+sentinel://" + knows.address() +
                            ",127.0.0.1:" + std::to_string(nobody) + "/orders");
    auto broker = test::start_broker(cfg);
    auto ready = readyz_saying(cfg.port, "no sentinel names the master");
    CHECK(ready.status == 503);
    CHECK_THAT(ready.body, Contains("no sentinel names the master"));
    CHECK_THAT(ready.body, Contains(knows.address() + ": knows no master named 'orders'"));
    CHECK_THAT(ready.body, Contains("127.0.0.1:" + std::to_string(nobody) + ": "));
    CHECK_THAT(broker->output(), Contains("cannot find the redis master; retrying"));
}

TEST_CASE("sentinel mode serves the rest too: fan-out, replay, groups and dead letters",
          "[app][sentinel]") {
    sentinel_group g;
    test::broker_config cfg(g.url());
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 10s).status == 200);
    // A fan-out subscriber at the stream's end (the tail reads use clients of their own).
    test::ws_client fan(cfg.port);
    fan.send(R"({"op":"subscribe","id":"f","type":"user.created"})");
    REQUIRE(fan.receive_op("subscribed"));
    test::http_connection c(cfg.port);
    for (int n = 0; n < 3; ++n) REQUIRE(publish(c, "m-" + std::to_string(n)).status == 201);
    for (int n = 0; n < 3; ++n) {
        auto f = fan.receive_op("event");
        REQUIRE(f);
        CHECK_THAT(*f, Contains("\"id\":\"m-" + std::to_string(n) + "\""));
    }
    // Replay, group admin and dead letters answer from the master the sentinels named.
    auto page = c.request("GET", "/v1/streams/user.created/events?limit=10");
    CHECK(page.status == 200);
    CHECK_THAT(page.body, Contains("\"m-2\""));
    auto created = c.request("PUT", "/v1/streams/user.created/groups/audit", R"({"from":"start"})",
                             "Content-Type: application/json\r\n");
    CHECK(created.status / 100 == 2);
    auto groups = c.request("GET", "/v1/streams/user.created/groups");
    CHECK(groups.status == 200);
    CHECK_THAT(groups.body, Contains("\"audit\""));
    CHECK(c.request("GET", "/v1/dlq/user.created").status == 200);
    auto port = g.sentinels.front()->master_port();
    CHECK(test::redis_cli(port, {"XLEN", stream_key}) == "3");
}
