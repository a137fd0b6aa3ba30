// The broker's allocations per single-event publish, in steady state: a budget that
// catches a hot-path regression (a parser built per request, strings per event) which
// a functional test cannot see. The broker runs in this process, on real sockets and a
// real redis-server; this program links the counting operator new and counts every
// allocation made by any thread but the test's own (the client's).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "app/broker.hpp"
#include "config/loader.hpp"
#include "support/allocation_counter.hpp"
#include "support/broker_process.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;

TEST_CASE("a publish stays within its allocation budget, single or in a batch",
          "[publish][redis]") {
    test::exclude_this_thread_from_allocation_count();
    test::redis_server redis;
    test::broker_config cfg(redis.url());
    auto env = config::process_environment();
    auto settings = config::load_file(cfg.file.string(), env);
    int exit_code = -1;
    std::thread daemon([&] { exit_code = app::broker(settings, cfg.file.string(), env).run(); });
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 10s).status == 200);

    const std::string body =
        R"({"type":"user.created","version":1,"data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com","name":"Ada"}})";
    const std::string headers = "Content-Type: application/json\r\n";
    test::http_connection c(cfg.port);
    // Warm up: per-thread buffers, metric series, Asio's handler memory.
    for (int i = 0; i < 300; ++i)
        REQUIRE(c.request("POST", "/v1/events", body, headers).status == 201);

    constexpr int publishes = 1000;
    int stored = 0;
    test::start_counting_allocations();
    for (int i = 0; i < publishes; ++i)
        stored += c.request("POST", "/v1/events", body, headers).status == 201;
    auto allocations = test::stop_counting_allocations();
    CHECK(stored == publishes);
    double per_publish = static_cast<double>(allocations) / publishes;
    INFO("allocations per publish: " << per_publish);
    // 7.3 when this was written (HTTP parse and answer, the Redis round trip, metrics;
    // background work such as Redis health checks included); 13.4 before the header
    // fields came from the session's arena, the plan's buffers were merged and the
    // Redis connection's reads and writes stopped costing a coroutine frame each. A
    // simdjson parser built per request, as once happened, makes it 20.5.
    CHECK(per_publish <= 8);

    // A batch costs little more than one event: what an event adds is its own item
    // and answer text, not allocations of its own.
    std::string batch = "[";
    for (int i = 0; i < 100; ++i) {
        if (i) batch += ',';
        batch +=
            R"({"specversion":"1.0","source":"/test","type":"user.created","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"}})";
    }
    batch += ']';
    const std::string batch_headers = "Content-Type: application/cloudevents-batch+json\r\n";
    for (int i = 0; i < 20; ++i)
        REQUIRE(c.request("POST", "/v1/events", batch, batch_headers).status == 200);
    constexpr int batches = 50;
    int batches_stored = 0;
    test::start_counting_allocations();
    for (int i = 0; i < batches; ++i)
        batches_stored += c.request("POST", "/v1/events", batch, batch_headers).status == 200;
    auto batch_allocations = test::stop_counting_allocations();
    CHECK(batches_stored == batches);
    double per_event = static_cast<double>(batch_allocations) / (batches * 100);
    INFO("allocations per event of a 100-event batch: " << per_event);
    CHECK(per_event <= 2);

    ::kill(::getpid(), SIGTERM);  // the broker drains and run() returns
    daemon.join();
    CHECK(exit_code == 0);
}
