#include "redis/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "redis/error.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

// Never co_await inside a CHECK/REQUIRE: Catch repeats the expression in a
// short-circuited branch, and GCC 12 runs co_await there all the same.
using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

redis::connection_options options_for(std::uint16_t port) {
    redis::connection_options o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = port;
    o.client_name = "sluice-test";
    o.connect_timeout = 2s;
    o.dead_after = 500ms;
    return o;
}

// Runs `body(ctx)` on a fresh io_context until it finishes.
template <typename F>
void run_coroutine(F body) {
    asio::io_context ctx;
    test::run_coroutine(ctx, [&] { return body(ctx); });
}

// A connection to `o`, connected; fails the test (with Redis's words) otherwise.
asio::awaitable<std::shared_ptr<redis::connection>> open_connection(asio::io_context& ctx,
                                                                    redis::connection_options o) {
    auto conn = std::make_shared<redis::connection>(ctx.get_executor(), std::move(o));
    std::string detail;
    auto ec = co_await conn->connect(detail);
    INFO(detail);
    REQUIRE_FALSE(ec);
    co_return conn;
}

}  // namespace

TEST_CASE("10k concurrent requests are pipelined and matched in order", "[redis]") {
    test::redis_server server;
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto conn = co_await open_connection(ctx, options_for(server.port()));
        constexpr int n = 10'000;
        std::vector<long long> got(n, -1);
        int answered = 0;
        // INCR runs in the order Redis receives the commands, so request i must get
        // i + 1: any mismatch between requests and replies shows up here.
        for (int i = 0; i < n; ++i) {
            conn->async_exec(redis::command("INCR", "counter"),
                             [&, i](error_code e, redis::reply r) {
                                 if (!e && r.type == redis::reply::kind::integer)
                                     got[static_cast<std::size_t>(i)] = r.integer;
                                 ++answered;
                             });
        }
        asio::steady_timer wait(ctx);
        while (answered < n) {
            wait.expires_after(5ms);
            co_await wait.async_wait(use_tuple);
        }
        int in_order = 0;
        for (int i = 0; i < n; ++i) in_order += got[static_cast<std::size_t>(i)] == i + 1;
        CHECK(in_order == n);
        auto [e2, r2] = co_await conn->async_exec(redis::command("GET", "counter"), use_tuple);
        CHECK(r2.str == "10000");
        auto [e3, r3] = co_await conn->async_exec(redis::command("CLIENT", "GETNAME"), use_tuple);
        CHECK(r3.str == "sluice-test");
        conn->close();
    });
}

TEST_CASE("error replies arrive as replies, not as failures", "[redis]") {
    test::redis_server server;
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto conn = co_await open_connection(ctx, options_for(server.port()));
        co_await conn->async_exec(redis::command("SET", "k", "v"), use_tuple);
        auto [ec, r] = co_await conn->async_exec(redis::command("LPUSH", "k", "x"), use_tuple);
        CHECK_FALSE(ec);
        CHECK(r.is_error());
        CHECK_THAT(r.str, Contains("WRONGTYPE"));
        auto [ec2, r2] = co_await conn->async_exec(redis::command("GET", "missing"), use_tuple);
        CHECK(r2.type == redis::reply::kind::nil);
        conn->close();
    });
}

TEST_CASE("AUTH: an ACL user logs in, a wrong password is a clear error", "[redis]") {
    test::redis_server server({"--requirepass", "adminpass"});
    server.cli({"-a", "adminpass", "--no-auth-warning", "ACL", "SETUSER", "app", "on", ">apppass",
                "~*", "+@all"});
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto bad_opts = options_for(server.port());
        bad_opts.endpoint.username = "app";
        bad_opts.endpoint.password = "wrong";
        auto bad = std::make_shared<redis::connection>(ctx.get_executor(), bad_opts);
        std::string detail;
        auto ec = co_await bad->connect(detail);
        CHECK(ec == redis::error::handshake_failed);
        CHECK_THAT(detail, Contains("AUTH refused"));
        CHECK_THAT(detail, Contains("WRONGPASS"));

        auto good_opts = bad_opts;
        good_opts.endpoint.password = "apppass";
        good_opts.endpoint.db = 3;
        auto good = co_await open_connection(ctx, good_opts);
        auto [e2, who] = co_await good->async_exec(redis::command("ACL", "WHOAMI"), use_tuple);
        CHECK(who.str == "app");
        co_await good->async_exec(redis::command("SET", "in-db-3", "1"), use_tuple);
        good->close();
    });
    CHECK(server.cli({"-a", "adminpass", "--no-auth-warning", "-n", "3", "GET", "in-db-3"}) == "1");
}

TEST_CASE("a unix socket connection works", "[redis]") {
    auto dir =
        std::filesystem::temp_directory_path() / ("sluice-sock-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = (dir / "redis.sock").string();
    {
        test::redis_server server({"--unixsocket", path, "--unixsocketperm", "700"});
        run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
            redis::connection_options o;
            o.endpoint.kind = redis::endpoint::transport::unix_socket;
            o.endpoint.path = path;
            auto conn = co_await open_connection(ctx, o);
            auto [ec, r] = co_await conn->async_exec(redis::command("PING"), use_tuple);
            CHECK(r.str == "PONG");
            conn->close();
        });
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("a Redis that stops answering fails requests with timeout", "[redis]") {
    test::redis_server server;
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto conn = co_await open_connection(ctx, options_for(server.port()));
        server.pause();
        auto started = std::chrono::steady_clock::now();
        auto [ec, r] = co_await conn->async_exec(redis::command("PING"), use_tuple);
        auto waited = std::chrono::steady_clock::now() - started;
        server.resume();
        CHECK(ec == redis::error::timeout);
        CHECK(waited >= 500ms);
        CHECK(waited < 2s);
        CHECK_FALSE(conn->is_open());
        // Later requests on the dead connection fail at once.
        auto [ec2, r2] = co_await conn->async_exec(redis::command("PING"), use_tuple);
        CHECK(ec2 == redis::error::not_connected);
    });
}

TEST_CASE("kill -9 under load: in-flight requests fail with a typed error, none hang", "[redis]") {
    test::redis_server server;
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto opts = options_for(server.port());
        opts.dead_after = 10s;  // the failure must come from the kill, not the watchdog
        auto conn = co_await open_connection(ctx, opts);
        // Redis holds every client's commands for 5 s, so all of ours are in flight
        // when it dies.
        server.cli({"CLIENT", "PAUSE", "5000", "ALL"});
        constexpr int n = 2000;
        int ok = 0, lost = 0, other = 0;
        for (int i = 0; i < n; ++i) {
            conn->async_exec(redis::command("INCR", "n"), [&](error_code e, redis::reply) {
                if (!e)
                    ++ok;
                else if (e == redis::error::connection_lost)
                    ++lost;
                else
                    ++other;
            });
        }
        asio::steady_timer wait(ctx, 100ms);
        co_await wait.async_wait(use_tuple);
        auto killed_at = std::chrono::steady_clock::now();
        server.kill();
        while (ok + lost + other < n) {
            wait.expires_after(5ms);
            co_await wait.async_wait(use_tuple);
        }
        CHECK(std::chrono::steady_clock::now() - killed_at < 2s);
        CHECK(lost == n);
        CHECK(ok == 0);
        CHECK(other == 0);

        // A new connection once Redis is back works.
        server.start();
        auto again = co_await open_connection(ctx, options_for(server.port()));
        auto [ec, r] = co_await again->async_exec(redis::command("PING"), use_tuple);
        CHECK(r.str == "PONG");
        again->close();
    });
}

TEST_CASE("connecting to a port nobody listens on fails with the reason", "[redis]") {
    test::redis_server server;
    auto port = server.port();
    server.kill();
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto conn = std::make_shared<redis::connection>(ctx.get_executor(), options_for(port));
        std::string detail;
        auto ec = co_await conn->connect(detail);
        CHECK(ec);
        CHECK_THAT(detail, Contains("cannot connect to 127.0.0.1:" + std::to_string(port)));
    });
}

TEST_CASE("a reply over the cap fails only its own request, and the requests around it succeed",
          "[redis]") {
    test::redis_server server;
    run_coroutine([&](asio::io_context& ctx) -> asio::awaitable<void> {
        auto opts = options_for(server.port());
        opts.limits.max_bytes = 64 * 1024;
        auto conn = co_await open_connection(ctx, opts);
        // 1 MiB in one string (GET) and 40 strings of 4 KiB (MGET): both over the cap.
        co_await conn->async_exec(redis::command("SET", "big", std::string(1 << 20, 'b')),
                                  use_tuple);
        redis::request fill;
        std::vector<std::string> keys;
        for (int i = 0; i < 40; ++i) {
            keys.push_back("part" + std::to_string(i));
            fill.push_command("SET", keys.back(), std::string(4096, 'p'));
        }
        co_await conn->async_exec(std::move(fill), use_tuple);
        std::vector<std::string_view> mget{"MGET"};
        mget.insert(mget.end(), keys.begin(), keys.end());

        // 2000 INCRs, with the oversized replies among them: one alone, one inside a
        // request of three commands. Every INCR must get its own count.
        constexpr int n = 2000;
        std::vector<long long> got(n, -1);
        int answered = 0;
        error_code big_ec, batch_ec;
        redis::reply big_reply;
        bool big_done = false, batch_done = false;
        for (int i = 0; i < n; ++i) {
            if (i == n / 3)
                conn->async_exec(redis::command("GET", "big"), [&](error_code e, redis::reply r) {
                    big_ec = e;
                    big_reply = std::move(r);
                    big_done = true;
                });
            if (i == 2 * n / 3) {
                redis::request batch;
                batch.push_command("PING");
                batch.push(redis::request(mget));
                batch.push_command("PING");
                conn->async_exec(std::move(batch), [&](error_code e, redis::reply) {
                    batch_ec = e;
                    batch_done = true;
                });
            }
            conn->async_exec(redis::command("INCR", "counter"),
                             [&, i](error_code e, redis::reply r) {
                                 if (!e && r.type == redis::reply::kind::integer)
                                     got[static_cast<std::size_t>(i)] = r.integer;
                                 ++answered;
                             });
        }
        asio::steady_timer wait(ctx);
        while (answered < n || !big_done || !batch_done) {
            wait.expires_after(5ms);
            co_await wait.async_wait(use_tuple);
        }
        int in_order = 0;
        for (int i = 0; i < n; ++i) in_order += got[static_cast<std::size_t>(i)] == i + 1;
        CHECK(in_order == n);
        CHECK(big_ec == redis::error::reply_too_large);
        CHECK_THAT(big_reply.str, Contains("over redis.max_reply_bytes (65536)"));
        CHECK_THAT(big_ec.message(), Contains("redis.max_reply_bytes"));
        CHECK(batch_ec == redis::error::reply_too_large);
        CHECK(conn->is_open());
        auto [e2, r2] = co_await conn->async_exec(redis::command("GET", "counter"), use_tuple);
        CHECK_FALSE(e2);
        CHECK(r2.str == "2000");
        conn->close();
    });
}
