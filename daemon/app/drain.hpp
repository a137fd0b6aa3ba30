#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "config/settings.hpp"

namespace sluice::http {
class server;
}

namespace sluice::app {

struct worker;
class readiness;
class systemd_reporter;

// The shutdown sequence (SIGTERM/SIGINT), in three steps:
// 1. /readyz turns 503 at once, but for `delay` (shutdown.drain_delay) new
//    connections are still accepted and served: load balancers that poll /readyz,
//    or endpoint lists being updated, stop sending before the door closes.
// 2. The listener closes, idle keep-alive connections close, in-flight requests
//    finish and go out with `Connection: close`; WebSockets get 1001 and their
//    unacked events are released in Redis for other members.
// 3. Once no connection is left, one PING round trip on every I/O thread's Redis
//    client: acks and releases queued by the closing sockets are in Redis before
//    the clients stop. After `grace_period` (counted from step 2), whatever is
//    left is cut.
// Then finish(): Redis first (its failed requests are posted to the I/O threads, which
// still run and answer them), then the server, then the control loop.
//
// Thread model: control thread only.
class drain_sequence {
  public:
    // What a drain closes. Each must outlive the sequence.
    struct parts {
        boost::asio::io_context& control;
        const config::settings& settings;  // shutdown.grace_period
        http::server& server;
        std::vector<std::unique_ptr<worker>>& workers;
        readiness& ready;
        systemd_reporter& systemd;
    };

    // `stop_control` stops what runs on the control thread (the main Redis client,
    // retention, group stats, the file watch, the signals, systemd's timers);
    // `after_server` runs once the I/O threads have stopped, just before the control
    // loop does.
    drain_sequence(parts p, std::function<void()> stop_control, std::function<void()> after_server);

    // Starts the sequence; `delay` is step 1's.
    void begin(std::chrono::milliseconds delay);
    bool is_draining() const { return draining_; }

    // Ends everything at once (the end of the sequence, or a second signal). Runs once.
    void finish();

  private:
    boost::asio::awaitable<void> run(std::chrono::milliseconds delay);

    parts parts_;
    std::function<void()> stop_control_;
    std::function<void()> after_server_;
    boost::asio::steady_timer timer_;  // the sequence's waits; cancelled by finish()
    bool draining_ = false;
    bool finished_ = false;
};

}  // namespace sluice::app
