#include "redis/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "metrics/registry.hpp"
#include "redis/error.hpp"
#include "redis/script.hpp"
#include "support/free_port.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

// Never co_await inside a CHECK/REQUIRE (see connection_test.cpp).
using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

redis::client_options client_for(std::uint16_t port) {
    redis::client_options o;
    o.connection.endpoint.host = "127.0.0.1";
    o.connection.endpoint.port = port;
    o.connection.dead_after = 500ms;
    o.health_check_interval = 100ms;
    o.reconnect_min = 20ms;
    o.reconnect_max = 200ms;
    return o;
}

using test::run_coroutine;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_tuple);
}

// Waits (bounded) until the client says it is up, or down.
asio::awaitable<bool> wait_until(const redis::client& c, bool up,
                                 std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (c.is_up() != up && std::chrono::steady_clock::now() < deadline) co_await sleep_for(10ms);
    co_return c.is_up() == up;
}

}  // namespace

TEST_CASE("the client reconnects by itself after kill -9, later requests succeed", "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    metrics::registry m;
    redis::client c(ctx.get_executor(), client_for(server.port()), &m);
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        auto [e1, r1] = co_await c.async_exec(redis::command("SET", "k", "before"), use_tuple);
        CHECK(r1.str == "OK");

        server.kill();
        auto [e2, r2] = co_await c.async_exec(redis::command("GET", "k"), use_tuple);
        CHECK(e2);  // typed: connection_lost, timeout or not_connected, never a hang
        bool down = co_await wait_until(c, false, 5s);
        CHECK(down);
        CHECK_FALSE(c.status().empty());

        server.start();
        bool back = co_await wait_until(c, true, 5s);
        REQUIRE(back);
        auto [e3, r3] = co_await c.async_exec(redis::command("SET", "k", "after"), use_tuple);
        CHECK_FALSE(e3);
        CHECK(r3.str == "OK");
        c.stop();
    });
    CHECK_THAT(m.serialize(), Contains(R"(sluice_redis_reconnects_total{client="main"} 1)"));
}

TEST_CASE("while Redis is away, requests fail fast or wait for it, as configured", "[redis]") {
    test::redis_server server;
    auto port = server.port();
    server.kill();
    asio::io_context ctx;
    auto fast_opts = client_for(port);
    redis::client fast(ctx.get_executor(), fast_opts);
    auto patient_opts = client_for(port);
    patient_opts.wait_when_disconnected = 5s;
    patient_opts.role = "patient";
    redis::client patient(ctx.get_executor(), patient_opts);
    fast.start();
    patient.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        auto started = std::chrono::steady_clock::now();
        auto [e1, r1] = co_await fast.async_exec(redis::command("PING"), use_tuple);
        CHECK(e1 == redis::error::not_connected);
        CHECK(std::chrono::steady_clock::now() - started < 100ms);

        // The patient request is parked, then sent once Redis is back.
        bool answered = false;
        error_code parked_error;
        std::string parked_reply;
        patient.async_exec(redis::command("PING"), [&](error_code e, redis::reply r) {
            parked_error = e;
            parked_reply = r.str;
            answered = true;
        });
        co_await sleep_for(300ms);
        CHECK_FALSE(answered);
        server.start();
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!answered && std::chrono::steady_clock::now() < deadline) co_await sleep_for(10ms);
        CHECK(answered);
        CHECK_FALSE(parked_error);
        CHECK(parked_reply == "PONG");
        fast.stop();
        patient.stop();
    });
}

TEST_CASE("a parked request fails with not_connected when its wait is over", "[redis]") {
    test::redis_server server;
    auto port = server.port();
    server.kill();
    asio::io_context ctx;
    auto opts = client_for(port);
    opts.wait_when_disconnected = 200ms;
    redis::client c(ctx.get_executor(), opts);
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        auto started = std::chrono::steady_clock::now();
        auto [ec, r] = co_await c.async_exec(redis::command("PING"), use_tuple);
        auto waited = std::chrono::steady_clock::now() - started;
        CHECK(ec == redis::error::not_connected);
        CHECK(waited >= 200ms);
        CHECK(waited < 1s);
        c.stop();
    });
}

TEST_CASE("beyond the cap on pending requests, requests fail with overloaded", "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    auto opts = client_for(server.port());
    opts.connection.max_pending_requests = 10;
    opts.connection.dead_after = 10s;
    opts.health_check_interval = 10s;
    redis::client c(ctx.get_executor(), opts);
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        server.cli({"CLIENT", "PAUSE", "1000", "ALL"});  // replies stop; requests pile up
        int overloaded = 0, answered = 0;
        for (int i = 0; i < 15; ++i) {
            c.async_exec(redis::command("INCR", "n"), [&](error_code e, redis::reply) {
                overloaded += e == redis::error::overloaded;
                ++answered;
            });
        }
        while (answered < 15) co_await sleep_for(10ms);
        // One slot is the health check's PING at most; the rest of the cap is ours.
        CHECK(overloaded >= 5);
        CHECK(overloaded <= 6);
        c.stop();
    });
}

TEST_CASE("a Redis that stops answering is found within interval + dead_after and recovers",
          "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    redis::client c(ctx.get_executor(), client_for(server.port()));  // 100 ms + 500 ms
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        server.pause();
        auto paused_at = std::chrono::steady_clock::now();
        bool down = co_await wait_until(c, false, 3s);
        auto noticed = std::chrono::steady_clock::now() - paused_at;
        server.resume();
        CHECK(down);
        CHECK(noticed < 1s);  // interval (100 ms) + dead_after (500 ms) + a watchdog tick
        bool back = co_await wait_until(c, true, 5s);
        CHECK(back);
        c.stop();
    });
}

TEST_CASE("MULTI/EXEC travels as one request and keeps its commands together", "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    redis::client c(ctx.get_executor(), client_for(server.port()));
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        redis::request tx;
        tx.push(redis::command("MULTI"))
            .push(redis::command("INCR", "a"))
            .push(redis::command("INCR", "a"))
            .push(redis::command("EXEC"));
        // Another caller's command issued at the same moment cannot land inside the
        // transaction.
        c.async_exec(redis::command("SET", "a", "100"), [](error_code, redis::reply) {});
        auto [ec, r] = co_await c.async_exec(std::move(tx), use_tuple);
        REQUIRE_FALSE(ec);
        REQUIRE(r.elements.size() == 4);
        CHECK(r.elements[0].str == "OK");
        CHECK(r.elements[1].str == "QUEUED");
        REQUIRE(r.elements[3].elements.size() == 2);
        auto second = r.elements[3].elements[1].integer;
        CHECK(second == r.elements[3].elements[0].integer + 1);
        c.stop();
    });
}

TEST_CASE("scripts run by SHA1 and are loaded again after SCRIPT FLUSH", "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    redis::client c(ctx.get_executor(), client_for(server.port()));
    c.start();
    redis::script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        auto [e1, r1] = co_await redis::eval(c, add, redis::args("n"), redis::args("5"));
        CHECK(r1.integer == 5);
        auto [e2, r2] = co_await redis::eval(c, add, redis::args("n"), redis::args("2"));
        CHECK(r2.integer == 7);
        server.cli({"SCRIPT", "FLUSH"});
        auto [e3, r3] = co_await redis::eval(c, add, redis::args("n"), redis::args("1"));
        CHECK_FALSE(e3);
        CHECK(r3.integer == 8);
        c.stop();
    });
    auto stats = server.cli({"INFO", "commandstats"});
    CHECK_THAT(stats, Contains("cmdstat_evalsha:calls=3"));  // every call tries the SHA first
    CHECK_THAT(stats, Contains("cmdstat_eval:calls=2"));     // the source only when Redis lacked it
}

TEST_CASE("a blocking read on its own client does not stall the pipeline or trip the watchdog",
          "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    redis::client main_client(ctx.get_executor(), client_for(server.port()));
    auto blocking_opts = client_for(server.port());
    blocking_opts.role = "blocking";
    redis::client blocking(ctx.get_executor(), blocking_opts);
    main_client.start();
    blocking.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up1 = co_await wait_until(main_client, true, 5s);
        bool up2 = co_await wait_until(blocking, true, 5s);
        REQUIRE((up1 && up2));
        bool read_done = false;
        std::size_t entries = 0;
        error_code read_error;
        // BLOCK 1500 is three times dead_after: the allowance keeps the connection alive.
        blocking.async_exec(
            redis::request(redis::command("XREAD", "BLOCK", "1500", "STREAMS", "s", "$")),
            [&](error_code e, redis::reply r) {
                read_error = e;
                if (r.type == redis::reply::kind::array) entries = r.elements.size();
                read_done = true;
            },
            1500ms);
        int pings = 0;
        auto started = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - started < 700ms) {
            auto [e, r] = co_await main_client.async_exec(redis::command("PING"), use_tuple);
            pings += r.str == "PONG";
        }
        CHECK(pings > 100);
        CHECK_FALSE(read_done);
        auto [ea, ra] =
            co_await main_client.async_exec(redis::command("XADD", "s", "*", "f", "v"), use_tuple);
        CHECK_FALSE(ea);
        while (!read_done) co_await sleep_for(10ms);
        CHECK_FALSE(read_error);
        CHECK(entries == 1);
        CHECK(blocking.is_up());
        main_client.stop();
        blocking.stop();
    });
}

TEST_CASE("a reply over the size cap fails alone, and the client's connection serves on",
          "[redis]") {
    test::redis_server server;
    server.cli({"SET", "big", std::string(8192, 'x')});
    asio::io_context ctx;
    auto opts = client_for(server.port());
    opts.connection.limits.max_bytes = 4096;
    redis::client c(ctx.get_executor(), opts);
    c.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        auto [id, named] = co_await c.async_exec(redis::command("CLIENT", "ID"), use_tuple);
        auto [ec, r] = co_await c.async_exec(redis::command("GET", "big"), use_tuple);
        CHECK(ec == redis::error::reply_too_large);
        CHECK_THAT(r.str, Contains("8192 bytes, over redis.max_reply_bytes (4096)"));
        // The same connection answers next: no reconnect.
        auto [e2, r2] = co_await c.async_exec(redis::command("PING"), use_tuple);
        CHECK(r2.str == "PONG");
        auto [e3, again] = co_await c.async_exec(redis::command("CLIENT", "ID"), use_tuple);
        CHECK(again.integer == named.integer);
        CHECK(c.is_up());
        c.stop();
    });
}

TEST_CASE("TLS: rediss with a CA and a client certificate, a wrong CA is refused", "[redis]") {
    auto dir =
        std::filesystem::temp_directory_path() / ("sluice-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto d = dir.string();
    auto make = [&](const std::string& name, const std::string& cn, const std::string& ca) {
        std::string cmd = "cd " + d + " && openssl req -newkey rsa:2048 -nodes -keyout " + name +
                          ".key -out " + name + ".csr -subj /CN=" + cn + " 2>/dev/null && " +
                          "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > " + name +
                          ".ext && " + "openssl x509 -req -in " + name + ".csr -CA " + ca +
                          ".crt -CAkey " + ca + ".key -CAcreateserial -out " + name +
                          ".crt -days 1 -extfile " + name + ".ext 2>/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
    };
    for (std::string ca : {"ca", "other-ca"}) {
        std::string cmd = "cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout " +
                          ca + ".key -out " + ca + ".crt -days 1 -subj /CN=" + ca + " 2>/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    make("server", "localhost", "ca");
    make("client", "sluice", "ca");

    auto tls_port = test::free_port();
    test::redis_server server({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                               d + "/server.crt", "--tls-key-file", d + "/server.key",
                               "--tls-ca-cert-file", d + "/ca.crt", "--tls-auth-clients", "yes"});
    asio::io_context ctx;
    auto opts = client_for(tls_port);
    opts.connection.endpoint.kind = redis::endpoint::transport::tls;
    opts.connection.endpoint.host = "localhost";
    opts.connection.tls.ca_file = d + "/ca.crt";
    opts.connection.tls.cert_file = d + "/client.crt";
    opts.connection.tls.key_file = d + "/client.key";
    redis::client c(ctx.get_executor(), opts);
    c.start();

    auto wrong = opts;
    wrong.role = "wrong-ca";
    wrong.connection.tls.ca_file = d + "/other-ca.crt";
    redis::client w(ctx.get_executor(), wrong);
    w.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool up = co_await wait_until(c, true, 5s);
        REQUIRE(up);
        auto [ec, r] = co_await c.async_exec(redis::command("PING"), use_tuple);
        CHECK(r.str == "PONG");
        co_await sleep_for(300ms);
        CHECK_FALSE(w.is_up());
        CHECK_THAT(w.status(), Contains("TLS handshake"));
        CHECK_THAT(w.status(), Contains("certificate verify failed"));
        c.stop();
        w.stop();
    });
    std::filesystem::remove_all(dir);
}

TEST_CASE("a client that finds Redis back pokes the others out of their backoff", "[redis]") {
    test::redis_server server;
    asio::io_context ctx;
    // Long, fixed backoffs: without the poke, `idle` would come back only after 3 s.
    auto opts = client_for(server.port());
    opts.reconnect_min = 3s;
    opts.reconnect_max = 3s;
    auto busy_opts = opts;
    busy_opts.role = "busy";
    auto idle_opts = opts;
    idle_opts.role = "idle";
    redis::client busy(ctx.get_executor(), busy_opts), idle(ctx.get_executor(), idle_opts);
    busy.set_on_up([&] { idle.poke(); });
    idle.set_on_up([&] { busy.poke(); });
    busy.start();
    idle.start();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        bool busy_up = co_await wait_until(busy, true, 5s);
        bool idle_up = co_await wait_until(idle, true, 5s);
        REQUIRE((busy_up && idle_up));
        server.kill();
        bool busy_down = co_await wait_until(busy, false, 5s);
        bool idle_down = co_await wait_until(idle, false, 5s);
        REQUIRE((busy_down && idle_down));
        co_await sleep_for(500ms);  // both are in their 3 s backoff now
        server.start();
        // A request makes `busy` try at once; once it is up it pokes `idle`.
        auto started = std::chrono::steady_clock::now();
        auto [ec, r] = co_await busy.async_exec(redis::command("PING"), use_tuple);
        (void)ec;
        (void)r;
        bool busy_back = co_await wait_until(busy, true, 1s);
        bool idle_back = co_await wait_until(idle, true, 1s);
        auto took = std::chrono::steady_clock::now() - started;
        CHECK(busy_back);
        CHECK(idle_back);
        CHECK(took < 1500ms);
        busy.stop();
        idle.stop();
    });
}
