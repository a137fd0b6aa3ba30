#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <string>

#include "config/settings.hpp"
#include "deliver/hub.hpp"
#include "http/worker_slot.hpp"
#include "redis/client.hpp"
#include "store/stream_store.hpp"

namespace sluice::catalog {
class holder;
}
namespace sluice::metrics {
class registry;
}

namespace sluice::app {

// One I/O thread's own objects, made with the thread, on its executor, before the
// server starts: its pipelined Redis client (`io-N` in metrics), the store over that
// client, and its delivery hub (whose group readers read as consumer `<process>-N`).
// The thread lends them to every request it serves (lent(), given to
// http::server::set_worker), so a handler finds them in its request context and a
// request never leaves its thread nor asks the composition root for anything.
//
// Thread model: used on its I/O thread. The control thread only starts and stops the
// client and drains, stops and re-limits the hub, which post to the I/O thread.
struct worker {
    // `consumer` is the process's consumer name (deliver::process_consumer_name()).
    worker(std::size_t index, boost::asio::any_io_executor executor,
           const config::settings& settings, const std::string& consumer,
           const catalog::holder& catalogs, metrics::registry& metrics);
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // What the thread's requests find in http::request_context::worker: the client
    // (publish), the store (the stream endpoints) and the hub (WebSocket upgrades).
    http::worker_slot lent();

    const std::size_t index;  // the I/O thread's, as in http::server::executors()
    const boost::asio::any_io_executor executor;
    redis::client redis;
    store::stream_store store;
    deliver::hub hub;
};

}  // namespace sluice::app
