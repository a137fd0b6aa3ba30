#include "app/drain.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/readiness.hpp"
#include "app/systemd_reporter.hpp"
#include "app/worker.hpp"
#include "http/server.hpp"
#include "log/logger.hpp"
#include "net/report_failure.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

drain_sequence::drain_sequence(parts p, std::function<void()> stop_control,
                               std::function<void()> after_server)
    : parts_(p)
    , stop_control_(std::move(stop_control))
    , after_server_(std::move(after_server))
    , timer_(p.control) {}

void drain_sequence::begin(std::chrono::milliseconds delay) {
    if (draining_) return;
    draining_ = true;
    net::co_spawn(parts_.control, run(delay), sluice::net::report_failure("drain"));
}

net::awaitable<void> drain_sequence::run(std::chrono::milliseconds delay) {
    auto& server = parts_.server;
    auto grace = parts_.settings.shutdown.grace_period;
    log::info("draining", {{"drain_delay_ms", delay.count()},
                           {"grace_period_ms", grace.count()},
                           {"open_connections", server.open_connections()}});
    parts_.ready.set_draining();
    parts_.systemd.stopping(delay);
    if (delay.count() > 0) {
        timer_.expires_after(delay);
        co_await timer_.async_wait(use_tuple);
        if (finished_) co_return;
    }
    log::info("closing the listener", {{"open_connections", server.open_connections()}});
    server.drain();
    for (auto& w : parts_.workers) w->hub.drain();
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer_.expires_after(std::chrono::milliseconds(20));
        co_await timer_.async_wait(use_tuple);
        if (finished_) co_return;
    }
    auto flushed = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto& w : parts_.workers)
        net::post(w->executor, [c = &w->redis, flushed] {
            c->async_exec(redis::command("PING"),
                          [flushed](boost::system::error_code, redis::reply) { ++*flushed; });
        });
    while (*flushed < parts_.workers.size() && std::chrono::steady_clock::now() < deadline) {
        timer_.expires_after(std::chrono::milliseconds(5));
        co_await timer_.async_wait(use_tuple);
        if (finished_) co_return;
    }
    finish();
}

void drain_sequence::finish() {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    auto left = parts_.server.open_connections();
    if (left > 0) log::warn("grace period over; closing connections", {{"open_connections", left}});
    stop_control_();
    for (auto& w : parts_.workers) {
        w->hub.stop();
        w->redis.stop();
    }
    net::post(parts_.control, [this] {
        parts_.server.stop();
        after_server_();
        parts_.control.stop();
    });
}

}  // namespace sluice::app
