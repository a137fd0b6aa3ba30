#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace sluice::net {

// How a background task is kept running.
struct supervision {
    std::string task;    // a bounded name, for logs and sluice_task_restarts_total{task}
    std::string detail;  // what this instance serves (e.g. "orders.created/billing"), logs only
    std::function<bool()> stopped;     // true once the task should not run again
    std::function<void()> on_restart;  // counts a restart (metrics)
    std::chrono::milliseconds backoff_min{100};
    std::chrono::milliseconds backoff_max{5000};
};

// Runs `body()` on `ex` until it returns normally, or `stopped()` holds. Each time it
// throws, the failure is logged with the task's name and detail, counted, and the
// task starts again after a backoff that doubles from backoff_min to backoff_max (a
// task that keeps failing costs little). A failure after stopped() is not restarted.
void supervise(boost::asio::any_io_executor ex, std::function<boost::asio::awaitable<void>()> body,
               supervision how);

// Failure injection for tests of what supervise() restarts: the next `n` calls of
// fail_point(name) throw. Costs one relaxed atomic load while nothing is armed.
void arm_failure(const std::string& name, int n = 1);
void fail_point(const char* name);

}  // namespace sluice::net
