#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "app/systemd_notify.hpp"
#include "config/settings.hpp"

namespace sluice::catalog {
class holder;
}
namespace sluice::http {
class server;
}

namespace sluice::app {

class readiness;

// What systemd hears from the broker (Type=notify; the protocol is systemd_notify.*):
// READY=1 the first time /readyz would answer 200 and STATUS= whenever readiness
// changes; RELOADING=1 when a reload starts and READY=1 when it ends, applied or
// refused; STOPPING=1 when a drain starts; WATCHDOG=1 at half of WatchdogSec while
// the control thread and every I/O thread run. Without $NOTIFY_SOCKET every message
// is a no-op and start() runs no timers.
//
// Thread model: control thread only. The watchdog posts a heartbeat to each I/O thread
// and reads it back through atomics.
class systemd_reporter {
  public:
    // `io_threads` are the server's executors; the rest is read for ready_status().
    systemd_reporter(boost::asio::io_context& control, systemd_notifier notifier,
                     const config::settings& settings, const http::server& server,
                     const catalog::holder& catalogs, const readiness& ready,
                     std::vector<boost::asio::any_io_executor> io_threads);

    // Starts the readiness poll and, when systemd asked for one, the watchdog.
    void start();
    // Ends both (the drain's last step). Idempotent.
    void stop();

    void reloading(const std::string& config_path);
    void reloaded();
    void reload_refused(const std::string& failure);
    // The drain started: /readyz is 503 and the listener closes in `delay`.
    void stopping(std::chrono::milliseconds delay);

    // What `systemctl status` shows while the broker serves.
    std::string ready_status() const;

  private:
    // READY=1 once, then STATUS= on change. Polls: readiness is a handful of atomics,
    // and 100 ms is well inside any start timeout.
    boost::asio::awaitable<void> notify_readiness();
    // Each tick pings systemd only if every I/O thread ran the previous tick's
    // heartbeat, so a stuck I/O thread gets the service restarted, not just a stuck
    // control thread.
    boost::asio::awaitable<void> watchdog(std::chrono::microseconds period);

    boost::asio::io_context& control_;
    systemd_notifier notifier_;
    const config::settings& settings_;
    const http::server& server_;
    const catalog::holder& catalogs_;
    const readiness& ready_;
    std::vector<boost::asio::any_io_executor> io_threads_;
    std::deque<std::atomic<std::uint64_t>> heartbeats_;  // per I/O thread: the last tick it ran
    boost::asio::steady_timer readiness_timer_;
    boost::asio::steady_timer watchdog_timer_;
    bool stopping_ = false;  // a drain started: readiness is no longer reported
    bool stopped_ = false;
};

}  // namespace sluice::app
