#include "redis/health_monitor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "redis/error.hpp"

namespace sluice::redis {

namespace net = boost::asio;

// The timer the monitor sleeps on, so stop() can wake it.
struct health_wakeup {
    explicit health_wakeup(net::any_io_executor ex) : timer(std::move(ex)) {}
    net::steady_timer timer;
};

health_monitor::health_monitor(health_options options, metrics::registry& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

health_monitor::~health_monitor() = default;

void health_monitor::start(net::any_io_executor ex) {
    wakeup_ = std::make_shared<health_wakeup>(ex);
    net::co_spawn(ex, run(), sluice::net::report_failure("redis health monitor"));
}

void health_monitor::stop() {
    stopping_.store(true);
    if (wakeup_) wakeup_->timer.cancel();
    if (current_) current_->close();
}

std::string health_monitor::status() const {
    std::lock_guard lock(status_mutex_);
    return status_;
}

void health_monitor::set_state(bool up, std::string why) {
    bool was = up_.exchange(up);
    {
        std::lock_guard lock(status_mutex_);
        status_ = std::move(why);
    }
    metrics_.set_redis_up(up);
    auto where = options_.connection.endpoint.display();
    if (up && !was) log::info("redis is up", {{"redis", where}});
    if (!up && was) log::warn("redis is down", {{"redis", where}, {"reason", status()}});
}

net::awaitable<void> health_monitor::run() {
    constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
    auto wake = wakeup_;
    auto ex = co_await net::this_coro::executor;
    std::mt19937 rng{std::random_device{}()};
    auto backoff = options_.reconnect_min;
    bool ever_up = false;
    bool logged_failure = false;

    bool failed = false;  // the last attempt failed: back off before the next
    while (!stopping_) {
        if (failed) {
            // Full jitter: a random delay up to the current backoff, so instances
            // that lost Redis together do not reconnect in lockstep.
            std::uniform_int_distribution<long long> pick(options_.reconnect_min.count(),
                                                          backoff.count());
            wake->timer.expires_after(std::chrono::milliseconds(pick(rng)));
            co_await wake->timer.async_wait(use_tuple);
            backoff = std::min(backoff * 2, options_.reconnect_max);
            if (stopping_) break;
        }
        failed = true;
        current_ = std::make_shared<connection>(ex, options_.connection);
        std::string detail;
        auto ec = co_await current_->connect(detail);
        if (stopping_) break;
        if (ec) {
            set_state(false, detail);
            if (!logged_failure) {
                log::warn("cannot reach redis; retrying", {{"reason", detail}});
                logged_failure = true;
            }
            continue;
        }
        if (ever_up) metrics_.count_redis_reconnect();
        ever_up = true;
        logged_failure = false;
        set_state(true, {});

        while (!stopping_) {
            auto started = std::chrono::steady_clock::now();
            auto [pec, r] = co_await current_->async_exec(command("PING"), use_tuple);
            if (stopping_) break;
            if (pec || r.is_error()) {
                set_state(false, pec ? pec.message() : "PING refused: " + r.str);
                current_->close();
                break;
            }
            // Only a connection that answers resets the backoff: one that accepts and
            // then drops us must not make us reconnect in a tight loop.
            backoff = options_.reconnect_min;
            metrics_.observe_redis_rtt(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            wake->timer.expires_after(options_.interval);
            co_await wake->timer.async_wait(use_tuple);
        }
    }
    if (current_) current_->close();
    up_.store(false);
}

}  // namespace sluice::redis
