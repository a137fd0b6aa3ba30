#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "redis/connection.hpp"

namespace sluice::metrics {
class registry;
}

namespace sluice::redis {

struct client_options {
    connection_options connection;
    std::chrono::milliseconds health_check_interval{1000};  // PING this often
    std::chrono::milliseconds reconnect_min{100};           // first retry delay
    std::chrono::milliseconds reconnect_max{5000};          // cap (exponential, full jitter)
    // While disconnected, a request waits this long for the connection to return
    // before failing with error::not_connected; 0 fails it at once.
    std::chrono::milliseconds wait_when_disconnected{0};
    std::string role = "main";  // names this client in metrics and logs
};

// A self-healing Redis client: one pipelined `connection` at a time, replaced after a
// failure with exponential backoff and jitter; PINGs every health_check_interval so a
// silent Redis is found within interval + dead_after. Requests made while there is
// no connection fail fast or wait (bounded, see client_options); the connection's
// caps apply to waiting requests too.
//
// Thread-safety: async_exec, stop, is_up and status may be called from any thread;
// everything else happens on the client's executor.
class client {
  public:
    using executor_type = boost::asio::any_io_executor;
    using exec_signature = connection::exec_signature;

    client(executor_type ex, client_options options, metrics::registry* metrics = nullptr);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void start();
    // Fails waiting and in-flight requests with error::closed and stops reconnecting.
    void stop();

    // Called (on the client's executor) each time the client comes up. Set before
    // start(). The broker links its clients with it: one that finds Redis back pokes
    // the others.
    void set_on_up(std::function<void()> f);
    // Redis is evidently back (another client reached it): a client waiting out a
    // reconnect backoff tries now. Any thread.
    void poke();

    bool is_up() const;
    std::string status() const;  // why it is not up; empty while up

    template <typename Token>
    auto async_exec(request req, Token&& token,
                    std::chrono::milliseconds extra_time = std::chrono::milliseconds(0)) {
        return boost::asio::async_initiate<Token, exec_signature>(
            [this](auto handler, request r, std::chrono::milliseconds extra) {
                start_exec(std::move(r),
                           boost::asio::any_completion_handler<exec_signature>(std::move(handler)),
                           extra);
            },
            token, std::move(req), extra_time);
    }

    template <typename Token>
    auto async_exec(const std::vector<std::string_view>& argv, Token&& token) {
        return async_exec(request(argv), std::forward<Token>(token));
    }

    executor_type get_executor() const;

    struct impl;

  private:
    void start_exec(request req, boost::asio::any_completion_handler<exec_signature> handler,
                    std::chrono::milliseconds extra_time);

    std::shared_ptr<impl> impl_;
};

}  // namespace sluice::redis
