// Floods against the WebSocket endpoint of the real binary by clients that never
// read: whatever they send, the broker's memory for them stays under the queue cap
// and comes back afterwards.
#include <catch2/catch.hpp>
#include <thread>

#include "integration/abuse/abuse.hpp"
#include "support/broker_process.hpp"
#include "support/redis_server.hpp"
#include "support/ws_frames.hpp"
#include "support/ws_raw_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using namespace test::frame_bits;
using Catch::Matchers::Contains;

namespace {

// Writes `frame` `count` times, in large writes.
void flood(test::raw_client& c, const std::string& frame, std::size_t count) {
    std::string chunk;
    for (std::size_t i = 0; i < 1000; ++i) chunk += frame;
    for (std::size_t sent = 0; sent < count; sent += 1000) c.write(chunk);
}

}  // namespace

TEST_CASE("abuse: a client that pings and never reads gets one pong, not a pile", "[abuse]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(), "");
    auto broker = test::start_broker(cfg);
    test::raw_client c(cfg.port, 4096);  // a small receive buffer: the server's writes back up
    REQUIRE(c.open());
    auto baseline = broker->resident_kib();
    // 400,000 pings of 125 bytes: 52 MB in, which as queued pongs would be 51 MB.
    flood(c, test::client_frame(fin | op_ping, std::string(125, 'p')), 400'000);
    c.write(test::client_frame(fin | op_ping, "the last one"));
    auto peak = broker->resident_kib();
    INFO("resident memory " << baseline << " KiB before, " << peak << " KiB after the flood");
    CHECK(peak < baseline + 16 * 1024);
    // Reading now: what the kernel buffers held, then the answer to the last ping.
    std::optional<test::server_frame> last;
    while (auto f = c.read_frame(1s)) {
        if (f->op == op_pong) last = std::move(*f);
    }
    REQUIRE(last);
    CHECK(last->payload == "the last one");
    CHECK(test::healthz_ms(cfg.port) < 1000);
}

TEST_CASE("abuse: a client that floods bad frames and never reads is closed with 1008", "[abuse]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(), "websocket:\n  max_queued_bytes: 1MiB\n");
    auto broker = test::start_broker(cfg);
    auto baseline = broker->resident_kib();
    {
        test::raw_client c(cfg.port, 4096);
        REQUIRE(c.open());
        // Each {"op":"x"} earns an error frame ~8 times its size. The broker stops
        // reading them once it has closed the connection, so the writes may fail.
        try {
            flood(c, test::client_frame(fin | op_text, R"({"op":"x"})"), 2'000'000);
        } catch (const std::exception&) {
        }
        CHECK(c.wait_closed(10s));
        bool saw_close = false;
        for (const auto& f : c.skipped)
            if (f.op == op_close) {
                saw_close = true;
                CHECK(f.close_code() == 1008);
                CHECK_THAT(f.payload, Contains("bytes queued toward the client"));
            }
        // The close frame may not find room in a full socket; the log says it either way.
        if (!saw_close) CHECK(broker->wait_for_output("lets its frames pile up", 1s));
    }
    CHECK_THAT(test::http_get(cfg.port, "/metrics").body,
               Contains("sluice_websocket_send_overflows_total 1"));
    // Under ThreadSanitizer its allocator keeps more of what was freed (16 MiB of
    // queued frames here, on two I/O threads) and its shadow memory counts in RSS.
#if defined(__SANITIZE_THREAD__)
    constexpr long slack_kib = 8 * 1024;
#else
    constexpr long slack_kib = 0;
#endif
    auto after = test::settle_resident_kib(*broker, baseline, 16 * 1024 + slack_kib, 5s);
    INFO("resident memory " << baseline << " KiB before, " << after << " KiB after");
    CHECK(after < baseline + 16 * 1024 + slack_kib);
    CHECK(test::healthz_ms(cfg.port) < 1000);
}
