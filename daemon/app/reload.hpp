#pragma once

#include "auth/authenticator.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.hpp"

namespace sluice::catalog {
class holder;
struct schema_catalog;
}  // namespace sluice::catalog
namespace sluice::http {
class server;
}
namespace sluice::metrics {
class registry;
}
namespace sluice::publish {
class publisher;
}

namespace sluice::net {
class tls_server_context;
}

namespace sluice::app {

struct worker;
class systemd_reporter;

// SIGHUP, and reload.watch_interval: reads the config file and the schemas folder
// again and applies them only if both are good: the log settings, the HTTP and
// WebSocket limits, the publish options and the catalog, each swapped whole. A bad
// reload is logged, counted as refused, and the old config serves on. The listen
// address, thread count and Redis settings change only on restart (a warning says so).
//
// Thread model: control thread only. Reading and compiling the schemas happens on a
// thread of its own, because the control thread also runs the main Redis client,
// which must not stall behind a big compile; only the result is applied on the
// control thread.
class reloader {
  public:
    // What a reload changes. Each must outlive the reloader.
    struct targets {
        config::settings& settings;  // the running config; its reloadable sections are replaced
        http::server& server;
        std::vector<std::unique_ptr<worker>>& workers;  // their hubs' limits
        publish::publisher& publisher;
        catalog::holder& catalogs;
        metrics::registry& metrics;
        systemd_reporter& systemd;
        auth::holder& auth;
    };

    reloader(boost::asio::io_context& control, std::string config_path, config::env_lookup env,
             targets t);
    ~reloader();
    reloader(const reloader&) = delete;
    reloader& operator=(const reloader&) = delete;

    // Starts a reload; one that starts while another runs is ignored (logged).
    void reload();

    // reload.watch_interval: reloads, as on SIGHUP, when the config file, a schema file
    // or a file of tls_listen's or auth.jwt's changed. Stops at stop_watching().
    void start_watching();
    void stop_watching();

    // Waits for a reading thread still at work. After the I/O threads stopped.
    void join();

    const std::string& config_path() const { return config_path_; }

  private:
    void apply(const config::settings& next,
               const std::shared_ptr<const catalog::schema_catalog>& next_catalog,
               const std::shared_ptr<sluice::net::tls_server_context>& next_tls);
    boost::asio::awaitable<void> watch_files();

    boost::asio::io_context& control_;
    std::string config_path_;
    config::env_lookup env_;
    targets to_;
    boost::asio::steady_timer watch_timer_;
    bool watching_ = false;
    bool reloading_ = false;   // a reading thread is at work
    std::thread read_thread_;  // joined before the next reload and at join()
};

}  // namespace sluice::app
