#include "net/supervise.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>

#include "log/logger.hpp"

namespace sluice::net {
namespace {

namespace asio = boost::asio;

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& failure) {
        return failure.what();
    } catch (...) {
        return "unknown exception";
    }
}

asio::awaitable<void> run_supervised(std::function<asio::awaitable<void>()> body, supervision how) {
    auto backoff = how.backoff_min;
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (;;) {
        std::exception_ptr failure;
        try {
            co_await body();
            co_return;
        } catch (...) {
            failure = std::current_exception();
        }
        if (how.stopped && how.stopped()) co_return;
        log::error("task failed; restarting it",
                   {{"task", how.task},
                    {"detail", how.detail},
                    {"error", what_of(failure)},
                    {"restart_in_ms", static_cast<long long>(backoff.count())}});
        if (how.on_restart) how.on_restart();
        pause.expires_after(backoff);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        backoff = std::min(backoff * 2, how.backoff_max);
        if (how.stopped && how.stopped()) co_return;
    }
}

std::atomic<int> armed_total{0};
std::mutex armed_mutex;
std::map<std::string, int>& armed() {
    static std::map<std::string, int> m;
    return m;
}

}  // namespace

void supervise(asio::any_io_executor ex, std::function<asio::awaitable<void>()> body,
               supervision how) {
    asio::co_spawn(ex, run_supervised(std::move(body), std::move(how)), asio::detached);
}

void arm_failure(const std::string& name, int n) {
    std::lock_guard lock(armed_mutex);
    armed()[name] += n;
    armed_total.fetch_add(n, std::memory_order_relaxed);
}

void fail_point(const char* name) {
    if (armed_total.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard lock(armed_mutex);
    auto it = armed().find(name);
    if (it == armed().end() || it->second == 0) return;
    --it->second;
    armed_total.fetch_sub(1, std::memory_order_relaxed);
    throw std::runtime_error(std::string("injected failure at ") + name);
}

}  // namespace sluice::net
