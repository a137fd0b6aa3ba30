#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace sluice::metrics {
class registry;
}
namespace sluice::net {
class tls_server_context;
}

namespace sluice::http {

class service;

// Per-connection limits; replaced as a whole on reload, read per request.
struct limits {
    std::size_t max_body_bytes = 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::chrono::milliseconds idle_timeout{60'000};  // between requests on a keep-alive connection
    std::chrono::milliseconds first_byte_timeout{5'000};  // from accept to the first byte
    std::chrono::milliseconds read_timeout{10'000};       // from a request's first byte to its last
    std::chrono::milliseconds write_timeout{10'000};      // to write one response
    std::size_t max_connections = 10'000;
    std::size_t max_connections_per_client = 1'000;  // per client address; 0: no limit
    bool access_log = false;
};

struct server_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: a free port, see server::port()
    unsigned threads = 1;
    // A second listener for operators (admin_listen), served by the first I/O thread;
    // its requests reach the service marked as such (request_context::admin_listener).
    bool admin = false;
    std::string admin_address = "127.0.0.1";
    std::uint16_t admin_port = 0;  // 0: a free port, see server::admin_port()
    // The HTTPS and WSS listener (tls_listen), on every I/O thread like the plain
    // one; what it presents comes from set_tls_context().
    bool tls = false;
    std::string tls_address = "127.0.0.1";
    std::uint16_t tls_port = 0;  // 0: a free port, see server::tls_port()
    bool plain = true;           // the plain HTTP listener (listen); off: TLS alone
};

// The HTTP listener and its connections. Thread model: `threads` I/O threads, each
// with its own io_context, its own SO_REUSEPORT acceptor and the sessions it accepted;
// a session never leaves its thread, so sessions need no locks or strands. Methods
// here may be called from any thread; they post to the I/O threads.
class server {
  public:
    server(server_options options, std::shared_ptr<const service> api, metrics::registry& metrics,
           limits initial);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and starts the I/O threads. Throws std::system_error naming the address
    // when the port cannot be bound.
    void start();

    // The executors of the I/O threads, one per thread; valid from construction, so
    // work can be placed on them before start().
    std::vector<boost::asio::any_io_executor> executors() const;

    // What I/O thread `thread` (an index into executors()) lends to every request it
    // serves (http::request_context::worker, and the upgrade handler's). Call before
    // start(); the lent objects must outlive the server.
    void set_worker(std::size_t thread, worker_slot worker);

    // Requests for `path` that ask for a WebSocket upgrade go to `h` with their socket.
    // Call before start().
    void set_upgrade_handler(std::string path, upgrade_handler h);

    // Checked for each accepted connection with the peer's address: the seconds to
    // wait when it is over a rate limit (answered 429 with Retry-After and closed),
    // else nothing. Set before start(); none by default.
    using connection_gate = std::function<std::optional<long long>(std::string_view client)>;
    void set_connection_gate(connection_gate g);

    // What the TLS listener presents from now on: connections accepted later get it,
    // open ones keep the one they began with. Needed before start() with options.tls.
    void set_tls_context(std::shared_ptr<net::tls_server_context> c);

    // The bound port (useful with port 0). Valid after start(); 0 without the listener.
    std::uint16_t port() const;
    std::uint16_t tls_port() const;
    // The admin listener's bound port (0 without one).
    std::uint16_t admin_port() const;

    // Takes effect for the next request on every connection.
    void set_limits(const limits& l);

    // Stops accepting, closes idle keep-alive connections, and answers in-flight
    // requests with `Connection: close`. Idempotent.
    void drain();

    std::size_t open_connections() const;

    // Closes every connection at once and joins the I/O threads. Idempotent.
    void stop();

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace sluice::http
