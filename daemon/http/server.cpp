#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/client_counter.hpp"
#include "http/session.hpp"
#include "http/shared_state.hpp"
#include "log/logger.hpp"
#include "net/report_failure.hpp"
#include "net/run_loop.hpp"

namespace sluice::http {
namespace {

namespace net = boost::asio;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// A whole 503 answer, sent best effort to a connection refused at accept.
std::string refusal(const problem& p) {
    std::string body = to_json(p);
    return "HTTP/1.1 503 Service Unavailable\r\nServer: sluice\r\nContent-Type: "
           "application/problem+json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Above http.max_connections.
const std::string& over_capacity_response() {
    static const std::string text = refusal({503,
                                             "too_many_connections",
                                             "Too many connections",
                                             "the server is at its connection limit; retry shortly",
                                             {}});
    return text;
}

// Above http.max_connections_per_client.
const std::string& client_over_capacity_response() {
    static const std::string text =
        refusal({503,
                 "too_many_client_connections",
                 "Too many connections from this client",
                 "this client address holds as many connections as one client may; close some "
                 "or retry shortly",
                 {}});
    return text;
}

// Over rate_limits.connections_per_client.
std::string rate_limited_response(long long wait_seconds) {
    std::string body = to_json({429,
                                "rate_limited",
                                "Too many requests",
                                "this client opens connections faster than it may "
                                "(rate_limits.connections_per_client)",
                                {}});
    return "HTTP/1.1 429 Too Many Requests\r\nServer: sluice\r\nContent-Type: "
           "application/problem+json\r\nRetry-After: " +
           std::to_string(wait_seconds) +
           "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
}

void refuse(tcp::socket& socket, const std::string& answer) {
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(answer), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

}  // namespace

// One I/O thread: its io_context, its acceptor, the sessions it accepted and what it
// lends to their requests. Only its own thread touches `sessions`.
struct worker {
    worker_slot lent;  // set before start, then read-only; outlives the sessions in ctx
    net::io_context ctx{1};
    tcp::acceptor acceptor{ctx};
    tcp::acceptor tls_acceptor{ctx};
    tcp::acceptor admin_acceptor{ctx};  // the first worker's, with admin_listen
    std::unordered_map<session*, std::weak_ptr<session>> sessions;
    std::thread thread;
};

struct server::impl {
    server_options options;
    shared_state state;
    client_counter clients;  // open connections per client address, over every worker
    std::vector<std::unique_ptr<worker>> workers;
    std::uint16_t bound_port = 0;
    std::uint16_t bound_tls_port = 0;
    std::uint16_t bound_admin_port = 0;
    bool started = false;
    bool stopped = false;
    // Last member, so the first destroyed: leases that outlive the server (a
    // connection whose coroutine is destroyed with its io_context) see it gone.
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    impl(server_options o, std::shared_ptr<const service> api, metrics::registry& m, limits l)
        : options(std::move(o)), state{std::move(api), m, std::make_shared<const limits>(l)} {
        // The I/O threads' contexts exist from the start, so other components (Redis
        // clients per thread) can be placed on them before the server runs.
        for (unsigned i = 0; i < std::max(1u, options.threads); ++i)
            workers.push_back(std::make_unique<worker>());
    }

    // `shared`: one of the acceptors of every I/O thread on one port (SO_REUSEPORT).
    static void open_acceptor(tcp::acceptor& a, const tcp::endpoint& ep, bool shared,
                              const std::string& name) {
        boost::system::error_code ec;
        a.open(ep.protocol(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && shared) {
            using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
            a.set_option(reuse_port(true), ec);
        }
        if (!ec) a.bind(ep, ec);
        if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
        if (ec) throw std::system_error(ec, "cannot listen on " + name);
    }

    // One acceptor per I/O thread on `address`:`port` (they share the port). Returns
    // the bound port.
    std::uint16_t open_listener(tcp::acceptor worker::*which, const std::string& address,
                                std::uint16_t port, std::string_view setting) {
        auto ip = resolve(address, port, setting);
        bool shared = workers.size() > 1;
        if (shared && port != 0) {
            // SO_REUSEPORT would let these acceptors join a port another process of the
            // same user already listens on, and the broker would start serving half
            // its connections: a plain bind first says whether the port is free.
            tcp::acceptor probe(workers.front()->ctx);
            open_acceptor(probe, tcp::endpoint(ip, port), false,
                          address + ":" + std::to_string(port));
        }
        for (auto& w : workers) {
            open_acceptor((*w).*which, tcp::endpoint(ip, port), shared,
                          address + ":" + std::to_string(port));
            port = ((*w).*which).local_endpoint().port();  // with port 0, the others share it
        }
        return port;
    }

    // An IP address, or a host name resolved once, at start.
    static net::ip::address resolve(const std::string& address, std::uint16_t port,
                                    std::string_view setting) {
        boost::system::error_code ec;
        auto ip = net::ip::make_address(address, ec);
        if (!ec) return ip;
        net::io_context resolve_ctx;
        tcp::resolver resolver(resolve_ctx);
        auto results = resolver.resolve(address, std::to_string(port), ec);
        if (ec || results.empty())
            throw std::system_error(
                ec, "cannot resolve " + std::string(setting) + " '" + address + "'");
        return results.begin()->endpoint().address();
    }

    net::awaitable<void> accept_loop(worker& w, tcp::acceptor& acceptor, bool admin,
                                     bool tls = false) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec) {
                if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
                // Out of file descriptors or similar: say so and give the system a moment.
                log::warn("accept failed", {{"error", ec.message()}});
                net::steady_timer pause(w.ctx, std::chrono::milliseconds(50));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            auto lim = state.get_limits();
            if (state.open_connections.load() >= lim->max_connections) {
                refuse(socket, over_capacity_response());
                state.metrics.count_connection_refused("max_connections");
                continue;
            }
            boost::system::error_code ignored;
            auto peer = socket.remote_endpoint(ignored);
            if (!clients.try_add(peer.address(), lim->max_connections_per_client)) {
                refuse(socket, client_over_capacity_response());
                state.metrics.count_connection_refused("per_client_limit");
                continue;
            }
            if (state.connection_gate) {
                auto client = peer.address().to_string();
                if (auto wait = state.connection_gate(client)) {
                    clients.remove(peer.address());
                    refuse(socket, rate_limited_response(*wait));
                    state.metrics.count_rate_limited("connection");
                    continue;
                }
            }
            socket.set_option(tcp::no_delay(true), ignored);
            state.open_connections.fetch_add(1);
            state.metrics.connection_opened();
            // The connection's place in the counts, with it for its whole life (an
            // upgrade hands it on); given back on whatever thread ends it.
            connection_lease lease([this, alive = std::weak_ptr<bool>(alive), peer] {
                if (alive.expired()) return;  // the server is being destroyed
                clients.remove(peer.address());
                state.open_connections.fetch_sub(1);
                state.metrics.connection_closed();
            });
            auto s = std::make_shared<session>(
                tls ? sluice::net::stream(std::move(socket), state.tls.load())
                    : sluice::net::stream(std::move(socket)),
                state, w.lent, std::move(lease), admin);
            w.sessions.emplace(s.get(), s);
            net::co_spawn(w.ctx, s->run(), [this, &w, s, peer](std::exception_ptr e) {
                if (e) {
                    // A defect in this connection's work: it alone is closed (the
                    // session and its socket go with the last reference, below).
                    log::error("connection failed and was closed",
                               {{"where", "http_session"},
                                {"client", peer.address().to_string()},
                                {"client_port", peer.port()},
                                {"error", sluice::net::what_of(e)}});
                    state.metrics.count_internal_error("http_session");
                }
                w.sessions.erase(s.get());
            });
        }
    }

    // Runs `f(worker&)` on every worker's own thread.
    template <typename F>
    void on_each_worker(F f) {
        for (auto& w : workers) net::post(w->ctx, [&w = *w, f] { f(w); });
    }
};

server::server(server_options options, std::shared_ptr<const service> api,
               metrics::registry& metrics, limits initial)
    : impl_(std::make_unique<impl>(std::move(options), std::move(api), metrics, initial)) {}

server::~server() {
    stop();
}

void server::start() {
    auto& d = *impl_;
    if (d.options.plain)
        d.bound_port = d.open_listener(&worker::acceptor, d.options.address, d.options.port,
                                       "the listen address");
    if (d.options.tls) {
        if (!d.state.tls.load()) throw std::logic_error("tls_listen without a TLS context");
        d.bound_tls_port = d.open_listener(&worker::tls_acceptor, d.options.tls_address,
                                           d.options.tls_port, "tls_listen.address");
    }
    if (d.options.admin) {
        auto& w = *d.workers.front();
        boost::system::error_code ec;
        auto admin_address = net::ip::make_address(d.options.admin_address, ec);
        if (ec)
            throw std::system_error(
                ec, "admin_listen.address '" + d.options.admin_address + "' is not an IP address");
        impl::open_acceptor(w.admin_acceptor, tcp::endpoint(admin_address, d.options.admin_port),
                            false,
                            d.options.admin_address + ":" + std::to_string(d.options.admin_port) +
                                " (admin_listen)");
        d.bound_admin_port = w.admin_acceptor.local_endpoint().port();
        net::co_spawn(w.ctx, d.accept_loop(w, w.admin_acceptor, true),
                      sluice::net::report_failure("http admin accept loop"));
    }
    d.started = true;  // before the threads: stop() must join whatever did start
    for (auto& w : d.workers) {
        if (d.options.plain)
            net::co_spawn(w->ctx, d.accept_loop(*w, w->acceptor, false),
                          sluice::net::report_failure("http accept loop"));
        if (d.options.tls)
            net::co_spawn(w->ctx, d.accept_loop(*w, w->tls_acceptor, false, true),
                          sluice::net::report_failure("https accept loop"));
        w->thread = std::thread([&ctx = w->ctx, &m = d.state.metrics] {
            sluice::net::run_catching(ctx, [&m](std::string_view what) {
                log::error("I/O thread handler failed; the thread serves on",
                           {{"where", "io_loop"}, {"error", what}});
                m.count_internal_error("io_loop");
            });
        });
    }
}

std::vector<boost::asio::any_io_executor> server::executors() const {
    std::vector<boost::asio::any_io_executor> out;
    for (const auto& w : impl_->workers) out.push_back(w->ctx.get_executor());
    return out;
}

void server::set_worker(std::size_t thread, worker_slot worker) {
    impl_->workers.at(thread)->lent = worker;
}

void server::set_connection_gate(connection_gate g) {
    impl_->state.connection_gate = std::move(g);
}

void server::set_upgrade_handler(std::string path, upgrade_handler h) {
    impl_->state.upgrade_path = std::move(path);
    impl_->state.upgrade = std::move(h);
}

std::uint16_t server::port() const {
    return impl_->bound_port;
}

std::uint16_t server::tls_port() const {
    return impl_->bound_tls_port;
}

void server::set_tls_context(std::shared_ptr<sluice::net::tls_server_context> c) {
    impl_->state.tls.store(std::move(c), std::memory_order_release);
}

std::uint16_t server::admin_port() const {
    return impl_->bound_admin_port;
}

void server::set_limits(const limits& l) {
    impl_->state.current_limits.store(std::make_shared<const limits>(l), std::memory_order_release);
}

void server::drain() {
    auto& d = *impl_;
    if (d.state.draining.exchange(true)) return;
    d.on_each_worker([](worker& w) {
        boost::system::error_code ignored;
        w.acceptor.close(ignored);
        w.tls_acceptor.close(ignored);
        for (auto& [raw, weak] : w.sessions)
            if (auto s = weak.lock()) s->close_if_idle();
    });
}

std::size_t server::open_connections() const {
    return impl_->state.open_connections.load();
}

void server::stop() {
    auto& d = *impl_;
    if (!d.started || d.stopped) return;
    d.stopped = true;
    d.state.draining.store(true);
    d.on_each_worker([](worker& w) {
        boost::system::error_code ignored;
        w.acceptor.close(ignored);
        w.tls_acceptor.close(ignored);
        w.admin_acceptor.close(ignored);
        for (auto& [raw, weak] : w.sessions)
            if (auto s = weak.lock()) s->force_close();
    });
    // Closed sessions finish within a few event-loop turns; after that, stop the loops
    // regardless so shutdown never hangs on a stuck handler.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (auto& w : d.workers) {
        while (!w->ctx.stopped() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        w->ctx.stop();
        if (w->thread.joinable()) w->thread.join();
    }
}

}  // namespace sluice::http
