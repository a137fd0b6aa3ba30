#include "net/supervise.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "log/logger.hpp"
#include "net/report_failure.hpp"

namespace sluice::net {
namespace {

namespace asio = boost::asio;

// One supervised task: each run is spawned with a completion handler that sees its
// exception (no try/catch around a co_await: clang 14 miscompiles that under
// -fsanitize=fuzzer-no-link), and a failed run is spawned again after the backoff.
struct supervised : std::enable_shared_from_this<supervised> {
    asio::any_io_executor ex;
    std::function<asio::awaitable<void>()> body;
    supervision how;
    asio::steady_timer pause;
    std::chrono::milliseconds backoff;

    supervised(asio::any_io_executor e, std::function<asio::awaitable<void>()> b, supervision h)
        : ex(e), body(std::move(b)), how(std::move(h)), pause(ex), backoff(how.backoff_min) {}

    bool stopped() const { return how.stopped && how.stopped(); }

    void launch() {
        asio::co_spawn(ex, body(), [self = shared_from_this()](std::exception_ptr e) {
            if (e) self->failed(e);
        });
    }

    void failed(const std::exception_ptr& e) {
        if (stopped()) return;
        log::error("task failed; restarting it",
                   {{"task", how.task},
                    {"detail", how.detail},
                    {"error", sluice::net::what_of(e)},
                    {"restart_in_ms", static_cast<long long>(backoff.count())}});
        if (how.on_restart) how.on_restart();
        pause.expires_after(backoff);
        backoff = std::min(backoff * 2, how.backoff_max);
        pause.async_wait([self = shared_from_this()](boost::system::error_code) {
            if (!self->stopped()) self->launch();
        });
    }
};

std::atomic<int> armed_total{0};
std::mutex armed_mutex;
std::map<std::string, int>& armed() {
    static std::map<std::string, int> m;
    return m;
}

}  // namespace

void supervise(asio::any_io_executor ex, std::function<asio::awaitable<void>()> body,
               supervision how) {
    std::make_shared<supervised>(ex, std::move(body), std::move(how))->launch();
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
