#include "app/signals.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>

#include "app/drain.hpp"
#include "app/reload.hpp"
#include "log/logger.hpp"
#include "net/report_failure.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

signal_handler::signal_handler(net::io_context& control, const config::settings& settings,
                               reloader& reload, drain_sequence& drain)
    : control_(control)
    , settings_(settings)
    , reload_(reload)
    , drain_(drain)
    , signals_(control, SIGINT, SIGTERM, SIGHUP) {}

void signal_handler::start() {
    net::co_spawn(control_, run(), sluice::net::report_failure("signal handler"));
}

void signal_handler::stop() {
    signals_.cancel();
}

net::awaitable<void> signal_handler::run() {
    for (;;) {
        auto [ec, sig] = co_await signals_.async_wait(use_tuple);
        if (ec) co_return;
        if (sig == SIGHUP) {
            log::info("SIGHUP: reloading config", {{"config", reload_.config_path()}});
            reload_.reload();
            continue;
        }
        if (drain_.is_draining()) {
            log::warn("second stop signal: stopping now");
            drain_.finish();
            co_return;
        }
        auto delay = sig == SIGINT ? std::chrono::milliseconds(0)
                                   : std::chrono::milliseconds(settings_.shutdown.drain_delay);
        reload_.stop_watching();
        drain_.begin(delay);
    }
}

}  // namespace sluice::app
