#include "app/systemd_reporter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/readiness.hpp"
#include "catalog/holder.hpp"
#include "http/server.hpp"
#include "log/logger.hpp"
#include "net/report_failure.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

systemd_reporter::systemd_reporter(net::io_context& control, systemd_notifier notifier,
                                   const config::settings& settings, const http::server& server,
                                   const catalog::holder& catalogs, const readiness& ready,
                                   std::vector<net::any_io_executor> io_threads)
    : control_(control)
    , notifier_(std::move(notifier))
    , settings_(settings)
    , server_(server)
    , catalogs_(catalogs)
    , ready_(ready)
    , io_threads_(std::move(io_threads))
    , readiness_timer_(control)
    , watchdog_timer_(control) {}

void systemd_reporter::start() {
    if (!notifier_.is_enabled()) return;
    net::co_spawn(control_, notify_readiness(), sluice::net::report_failure("systemd notify"));
    if (auto period = notifier_.watchdog_period())
        net::co_spawn(control_, watchdog(*period), sluice::net::report_failure("systemd watchdog"));
}

void systemd_reporter::stop() {
    stopped_ = true;
    readiness_timer_.cancel();
    watchdog_timer_.cancel();
}

void systemd_reporter::reloading(const std::string& config_path) {
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now().time_since_epoch());  // CLOCK_MONOTONIC on Linux
    notifier_.send(notify_message::reloading(now, "reloading " + config_path));
}

void systemd_reporter::reloaded() {
    notifier_.send(notify_message::ready(ready_status()));
}

void systemd_reporter::reload_refused(const std::string& failure) {
    notifier_.send(notify_message::ready("reload refused, the old config serves: " + failure));
}

void systemd_reporter::stopping(std::chrono::milliseconds delay) {
    stopping_ = true;
    notifier_.send(notify_message::stopping("draining: /readyz is 503, closing in " +
                                            std::to_string(delay.count()) + " ms"));
}

std::string systemd_reporter::ready_status() const {
    auto c = catalogs_.get();
    std::string where;
    if (settings_.listen.enabled)
        where = settings_.listen.address + ":" + std::to_string(server_.port());
    if (settings_.tls_listen.enabled)
        where += (where.empty() ? "https " : ", https ") + settings_.tls_listen.address + ":" +
                 std::to_string(server_.tls_port());
    return "ready: " + where + ", " + std::to_string(c ? c->types.size() : 0) +
           " event types, Redis " + settings_.redis.endpoint.display();
}

net::awaitable<void> systemd_reporter::notify_readiness() {
    bool sent_ready = false;
    std::string last;
    while (!stopping_) {
        auto reasons = ready_.reasons_not_ready();
        if (reasons.empty() && !sent_ready) {
            sent_ready = true;
            last = ready_status();
            notifier_.send(notify_message::ready(last));
            log::info("ready; told systemd");
        } else {
            std::string now = reasons.empty() ? ready_status() : "not ready: " + reasons[0];
            if (now != last) notifier_.send(notify_message::status(now));
            last = now;
        }
        readiness_timer_.expires_after(std::chrono::milliseconds(sent_ready ? 1000 : 100));
        auto [ec] = co_await readiness_timer_.async_wait(use_tuple);
        if (ec || stopped_) co_return;
    }
}

net::awaitable<void> systemd_reporter::watchdog(std::chrono::microseconds period) {
    for (std::size_t i = 0; i < io_threads_.size(); ++i) heartbeats_.emplace_back(0);
    bool warned = false;
    for (std::uint64_t tick = 0;; ++tick) {
        std::size_t behind = 0;
        for (auto& h : heartbeats_)
            if (h.load() != tick) ++behind;
        if (behind == 0) {
            notifier_.send(notify_message::watchdog);
            warned = false;
        } else if (!warned) {
            warned = true;
            log::warn("I/O threads did not run within a watchdog tick; not pinging systemd",
                      {{"threads_behind", behind}, {"tick_us", period.count()}});
        }
        for (std::size_t i = 0; i < io_threads_.size(); ++i)
            net::post(io_threads_[i], [h = &heartbeats_[i], next = tick + 1] { h->store(next); });
        watchdog_timer_.expires_after(period);
        auto [ec] = co_await watchdog_timer_.async_wait(use_tuple);
        if (ec || stopped_) co_return;
    }
}

}  // namespace sluice::app
