#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/settings.hpp"

namespace sluice::app {

class drain_sequence;
class reloader;

// The signals the broker answers: SIGHUP reloads (reloader); the first SIGTERM or
// SIGINT starts a drain (drain_sequence) after stopping the file watch, with
// shutdown.drain_delay for SIGTERM and none for SIGINT (Ctrl-C at a terminal has no
// load balancer to wait for); a second one stops at once.
//
// Thread model: control thread only.
class signal_handler {
  public:
    signal_handler(boost::asio::io_context& control, const config::settings& settings,
                   reloader& reload, drain_sequence& drain);

    void start();
    // Stops listening (the drain's last step).
    void stop();

  private:
    boost::asio::awaitable<void> run();

    boost::asio::io_context& control_;
    const config::settings& settings_;
    reloader& reload_;
    drain_sequence& drain_;
    boost::asio::signal_set signals_;
};

}  // namespace sluice::app
