// The store's bookkeeping of broker instances in a group, against a real Redis: the
// ack timeout a consumer saves, and its removal with the consumer.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "redis/client.hpp"
#include "store/stream_store.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using namespace sluice;
using namespace std::chrono_literals;

TEST_CASE("store: a consumer's saved ack timeout goes with the consumer", "[redis]") {
    test::redis_server server;
    const std::string key = "sluice:{t}:acktimeout";
    server.cli({"XGROUP", "CREATE", "sluice:{t}:events", "g", "$", "MKSTREAM"});
    server.cli({"XGROUP", "CREATECONSUMER", "sluice:{t}:events", "g", "broker-1"});
    boost::asio::io_context ctx;
    redis::client_options o;
    o.connection.endpoint.port = server.port();
    redis::client c(ctx.get_executor(), o);
    c.start();
    test::run_coroutine(ctx, [&]() -> boost::asio::awaitable<void> {
        boost::asio::steady_timer t(ctx);
        while (!c.is_up()) {
            t.expires_after(10ms);
            co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
        store::stream_store store(c);
        store.save_ack_timeout("t", "g", "broker-1", 1500ms);
        store.save_ack_timeout("t", "other", "broker-1", 900ms);
        // Best effort, and pipelined on the same connection: a round trip after it has it.
        auto listing = co_await store.consumers("t", "g");
        CHECK(listing.ok());
        CHECK(server.cli({"HGET", key, "g\nbroker-1"}) == "1500");
        auto gone = co_await store.delete_consumer("t", "g", "broker-1");
        CHECK(gone.ok());
        c.stop();
    });
    CHECK(server.cli({"HEXISTS", key, "g\nbroker-1"}) == "0");
    CHECK(server.cli({"HGET", key, "other\nbroker-1"}) == "900");  // another group's stays
    CHECK(server.cli({"XINFO", "CONSUMERS", "sluice:{t}:events", "g"}).empty());
}
