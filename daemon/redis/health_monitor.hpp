#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "redis/connection.hpp"

namespace sluice::metrics {
class registry;
}

namespace sluice::redis {

struct health_options {
    connection_options connection;
    std::chrono::milliseconds interval{1000};       // PING this often
    std::chrono::milliseconds reconnect_min{100};   // first retry delay
    std::chrono::milliseconds reconnect_max{5000};  // retry delay cap (exponential, with jitter)
};

// Keeps one connection to Redis and PINGs it, so /readyz and sluice_redis_up say
// whether Redis answers. Reconnects by itself with exponential backoff and jitter.
// Runs on the executor given to start(); is_up() and status() may be read from any
// thread.
class health_monitor {
  public:
    health_monitor(health_options options, metrics::registry& metrics);
    ~health_monitor();

    void start(boost::asio::any_io_executor ex);
    void stop();  // call on the executor's thread, or after it stopped

    bool is_up() const { return up_.load(std::memory_order_acquire); }

    // Why Redis is not up (empty while up).
    std::string status() const;

  private:
    boost::asio::awaitable<void> run();
    void set_state(bool up, std::string why);

    health_options options_;
    metrics::registry& metrics_;
    std::atomic<bool> up_{false};
    std::atomic<bool> stopping_{false};
    mutable std::mutex status_mutex_;
    std::string status_ = "not connected yet";
    std::shared_ptr<connection> current_;
    std::shared_ptr<struct health_wakeup> wakeup_;
};

}  // namespace sluice::redis
