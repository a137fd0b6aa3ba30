// Replies larger than redis.max_reply_bytes, asked for on purpose: replay pages of
// large events while other clients publish on the same threads, and a type with more
// groups than one reply may carry. Only the oversized request may fail; the shared
// Redis connections stay up and every publish meanwhile is stored.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "integration/abuse/abuse.hpp"
#include "integration/deliver/delivery_broker.hpp"
#include "support/big_events.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

using test::big_order;
using test::metric;

}  // namespace

TEST_CASE("abuse: replies over redis.max_reply_bytes fail alone and drop no shared connection",
          "[abuse]") {
    test::redis_server redis;
    // 1 MiB replies at most, events up to 300 KB: four of them fill a reply.
    test::broker_config cfg(redis.url() + "\n  max_reply_bytes: 1MiB",
                            "http:\n  max_body_bytes: 320KiB\n");
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    for (int i = 0; i < 12; ++i) {
        test::http_connection c(cfg.port);
        auto r = c.request("POST", "/v1/events", big_order(i, 300'000),
                           "Content-Type: application/cloudevents+json\r\n");
        REQUIRE(r.status == 201);
    }
    auto before = broker->resident_kib();

    // Readers ask for pages of 100 large events over and over; publishers go on.
    std::atomic<bool> stop{false};
    std::atomic<int> pages{0}, bad_pages{0}, stored{0}, failed{0};
    std::vector<std::thread> clients;
    for (int r = 0; r < 2; ++r)
        clients.emplace_back([&] {
            test::http_connection c(cfg.port);
            while (!stop) {
                auto page = c.request("GET", "/v1/streams/order.placed/events?limit=100");
                (page.status == 200 ? pages : bad_pages)++;
            }
        });
    for (int p = 0; p < 4; ++p)
        clients.emplace_back([&, p] {
            test::http_connection c(cfg.port);
            for (int i = 0; i < 150; ++i) {
                auto r = c.request("POST", "/v1/events", test::user_event(p * 1000 + i),
                                   "Content-Type: application/json\r\n");
                (r.status == 201 ? stored : failed)++;
            }
        });
    for (std::size_t i = 2; i < clients.size(); ++i) clients[i].join();
    auto healthz = test::healthz_ms(cfg.port);
    stop = true;
    clients[0].join();
    clients[1].join();

    CHECK(stored == 600);
    CHECK(failed == 0);
    CHECK(bad_pages == 0);  // each page ends early, under the cap, with a `next` cursor
    CHECK(pages > 0);
    CHECK(healthz < 1000);
    auto text = test::http_get(cfg.port, "/metrics").body;
    CHECK(metric(text, R"(sluice_redis_reconnects_total{client="main"})") == 0);
    CHECK(metric(text, R"(sluice_redis_reconnects_total{client="io-0"})") <= 0);
    CHECK(metric(text, R"(sluice_limits_reached_total{limit="page_bytes"})") >= 1);
    CHECK_FALSE(broker->wait(0ms));
    auto after = test::settle_resident_kib(*broker, before, 32 * 1024, 10s);
    CHECK(after < before + 32 * 1024);
}
