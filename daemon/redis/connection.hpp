#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/endpoint.hpp"
#include "redis/resp.hpp"

namespace sluice::redis {

struct connection_options {
    redis::endpoint endpoint;
    std::string client_name = "sluice";
    std::chrono::milliseconds connect_timeout{2000};  // TCP/TLS connect and handshake together
    // A reply (or write) older than this kills the connection.
    std::chrono::milliseconds dead_after{3000};
    // Requests queued or awaiting replies, and their bytes; beyond either, new
    // requests fail at once with error::overloaded instead of piling up.
    std::size_t max_pending_requests = 100'000;
    std::size_t max_pending_bytes = 64 * 1024 * 1024;
    reply_limits limits;
    // Called on the connection's executor for each reply skipped over `limits`
    // (the client counts them in sluice_redis_replies_too_large_total).
    std::function<void()> on_reply_too_large;
    tls_options tls;  // for endpoint.kind == tls
    // Writes marked request::replicate() complete only once this many replicas have
    // them (one WAIT per socket write, up to replica_timeout); 0: no WAIT.
    unsigned min_replicas = 0;
    std::chrono::milliseconds replica_timeout{1000};
};

// One connection to Redis over TCP, TLS or a unix socket, with automatic pipelining:
// every request queued while a write is in progress goes out in the next single
// write, and replies are matched to requests in order. A request whose reply does
// not come within `dead_after` closes the connection, and every request on it fails
// with error::timeout; a broken socket fails them with error::connection_lost.
// Never reconnects by itself: its owner makes a new one.
//
// Thread-safety: async_exec may be called from any thread; it hops to the
// connection's executor. connect() and close() run on that executor.
class connection : public std::enable_shared_from_this<connection> {
  public:
    using executor_type = boost::asio::any_io_executor;
    using exec_signature = void(boost::system::error_code, reply);

    connection(executor_type ex, connection_options options);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Connects, then AUTH (when a password is set), SELECT (db != 0) and CLIENT SETNAME
    // in one round trip. On failure returns the error and puts Redis's or the
    // system's words in `detail` (e.g. "WRONGPASS invalid username-password pair").
    boost::asio::awaitable<boost::system::error_code> connect(std::string& detail);

    // Sends `req` (one or more commands, kept together); completes with its reply,
    // or an error from redis::error. An error *reply* (kind::error) is a successful
    // completion. `extra_time` extends the dead_after allowance for this request, for
    // commands that block in Redis on purpose (XREADGROUP ... BLOCK ms).
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

    // One command: `conn.async_exec(command("GET", key), token)`.
    template <typename Token>
    auto async_exec(const std::vector<std::string_view>& argv, Token&& token) {
        return async_exec(request(argv), std::forward<Token>(token));
    }

    // Requests queued or awaiting replies now.
    std::size_t pending() const;

    // Called on the connection's executor once, when the connection ends for any
    // reason, after every request on it has been failed. Set before connect().
    void on_close(std::function<void(boost::system::error_code)> f);

    // Fails every queued and in-flight request with error::closed and closes the socket.
    void close();

    bool is_open() const;

    executor_type get_executor() const;

    struct impl;

  private:
    void start_exec(request req, boost::asio::any_completion_handler<exec_signature> handler,
                    std::chrono::milliseconds extra_time);

    std::shared_ptr<impl> impl_;
};

}  // namespace sluice::redis
