// XADD throughput through redis::client: `callers` coroutines on one I/O thread each
// send XADD and wait for its reply, over and over, until `count` entries are written.
// The client coalesces whatever is queued into one write, so the callers together keep
// Redis's pipe full without any of them batching by hand.
//
//   sluice_bench_redis PORT EVENT_FILE [count=300000] [callers=256]
//
// Prints one line: `sluice-client xadd: N/s (count in seconds)`.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "log/logger.hpp"
#include "redis/client.hpp"

namespace asio = boost::asio;
using namespace sluice;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s PORT EVENT_FILE [count] [callers]\n", argv[0]);
        return 2;
    }
    auto port = static_cast<std::uint16_t>(std::stoi(argv[1]));
    std::ifstream in(argv[2]);
    std::stringstream text;
    text << in.rdbuf();
    std::string event = text.str();
    while (!event.empty() && (event.back() == '\n' || event.back() == '\r')) event.pop_back();
    long count = argc > 3 ? std::stol(argv[3]) : 300'000;
    int callers = argc > 4 ? std::stoi(argv[4]) : 256;

    log::configure(log::level::error, log::format::text);
    asio::io_context ctx{1};
    redis::client_options o;
    o.connection.endpoint.port = port;
    o.health_check_interval = std::chrono::seconds(1);
    redis::client client(ctx.get_executor(), o);
    client.start();

    long issued = 0, done = 0, failed = 0;
    std::chrono::steady_clock::time_point started, finished;
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

    auto caller = [&]() -> asio::awaitable<void> {
        while (issued < count) {
            ++issued;
            auto [ec, r] = co_await client.async_exec(
                redis::command("XADD", "bench:sluice", "*", "event", event), use_tuple);
            if (ec || r.is_error()) ++failed;
            if (++done == count) {
                finished = std::chrono::steady_clock::now();
                client.stop();
            }
        }
    };
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer t(ctx);
            while (!client.is_up()) {
                t.expires_after(std::chrono::milliseconds(5));
                co_await t.async_wait(use_tuple);
            }
            started = std::chrono::steady_clock::now();
            for (int i = 0; i < callers; ++i) asio::co_spawn(ctx, caller(), asio::detached);
        },
        asio::detached);
    ctx.run();

    double seconds = std::chrono::duration<double>(finished - started).count();
    std::printf("sluice-client xadd: %.0f/s (%ld in %.3f s, %ld failed, %d callers)\n",
                double(count) / seconds, count, seconds, failed, callers);
    return failed == 0 ? 0 : 1;
}
