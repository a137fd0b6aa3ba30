#include "redis/connection.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <optional>
#include <variant>

#include "log/logger.hpp"
#include "net/executor.hpp"
#include "net/report_failure.hpp"
#include "redis/error.hpp"

namespace sluice::redis {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using net::ip::tcp;
using unix_socket = net::local::stream_protocol::socket;
using tls_stream = ssl::stream<tcp::socket>;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Replies are read in chunks of this size; a larger reply simply takes several reads.
constexpr std::size_t read_chunk = 16 * 1024;

}  // namespace

struct connection::impl : std::enable_shared_from_this<connection::impl> {
    struct pending {
        std::string wire;
        net::any_completion_handler<exec_signature> handler;
        clock_type::time_point sent{};  // when queued, then when written
        std::size_t bytes = 0;          // wire size, counted in pending_bytes until completion
        std::size_t expected = 1;       // replies this request waits for
        std::chrono::milliseconds extra_time{0};
        reply collected;        // with expected > 1: the replies so far
        std::string too_large;  // why one of its replies was skipped; empty if none was
    };

    executor_type ex;
    connection_options options;
    std::unique_ptr<ssl::context> tls_context;  // declared first: outlives the stream using it
    std::variant<std::monostate, tcp::socket, unix_socket, std::unique_ptr<tls_stream>> stream;
    std::optional<tcp::resolver> resolver;
    reply_decoder decoder;
    std::size_t pending_bytes = 0;  // wire bytes of queued + in_flight
    std::deque<pending> queued;     // waiting for the next write
    std::deque<pending> in_flight;  // written, waiting for their replies, in order
    net::steady_timer wake_writer;
    net::steady_timer watchdog;
    clock_type::time_point write_started{};
    bool writing = false;
    bool open = false;
    std::function<void(error_code)> closed_callback;

    impl(executor_type e, connection_options o)
        : ex(std::move(e))
        , options(std::move(o))
        , decoder(options.limits)
        , wake_writer(ex)
        , watchdog(ex) {}

    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) {
        if (auto* s = std::get_if<tcp::socket>(&stream))
            co_return co_await s->async_read_some(b, use_tuple);
        if (auto* s = std::get_if<unix_socket>(&stream))
            co_return co_await s->async_read_some(b, use_tuple);
        if (auto* s = std::get_if<std::unique_ptr<tls_stream>>(&stream))
            co_return co_await (*s)->async_read_some(b, use_tuple);
        co_return std::tuple<error_code, std::size_t>{net::error::not_connected, 0};
    }

    net::awaitable<std::tuple<error_code, std::size_t>> write_all(net::const_buffer b) {
        if (auto* s = std::get_if<tcp::socket>(&stream))
            co_return co_await net::async_write(*s, b, use_tuple);
        if (auto* s = std::get_if<unix_socket>(&stream))
            co_return co_await net::async_write(*s, b, use_tuple);
        if (auto* s = std::get_if<std::unique_ptr<tls_stream>>(&stream))
            co_return co_await net::async_write(**s, b, use_tuple);
        co_return std::tuple<error_code, std::size_t>{net::error::not_connected, 0};
    }

    // Also stops a resolve or connect in progress, so the connect deadline covers them.
    void close_socket() {
        error_code ignored;
        if (resolver) resolver->cancel();
        if (auto* s = std::get_if<tcp::socket>(&stream)) s->close(ignored);
        if (auto* s = std::get_if<unix_socket>(&stream)) s->close(ignored);
        if (auto* s = std::get_if<std::unique_ptr<tls_stream>>(&stream))
            (*s)->lowest_layer().close(ignored);
    }

    // Completes a request on its caller's executor, never inline: used where the
    // caller may not re-enter (shutting down, refusing).
    void complete(pending& p, error_code ec, reply r) {
        pending_bytes -= std::min(pending_bytes, p.bytes);
        net::post(ex, net::append(std::move(p.handler), ec, std::move(r)));
    }

    // Completes a request from the reader: inline when the caller lives on this thread
    // (the common case), which saves a trip through the scheduler per reply. The
    // request is already off `in_flight`, so a caller that queues its next request
    // from the completion is safe.
    // A request one of whose replies was skipped fails with error::reply_too_large,
    // and its reply is an error reply saying why.
    void complete_reply(pending& p, reply r) {
        pending_bytes -= std::min(pending_bytes, p.bytes);
        error_code ec;
        if (!p.too_large.empty()) {
            ec = make_error_code(error::reply_too_large);
            r = reply{reply::kind::error, std::move(p.too_large), 0, {}};
        }
        net::dispatch(net::append(std::move(p.handler), ec, std::move(r)));
    }

    // On the executor: queue one request for the writer, or refuse it.
    void enqueue(request req, net::any_completion_handler<exec_signature> handler,
                 std::chrono::milliseconds extra_time) {
        // Built in place, never assigned: Asio 1.81's any_completion_handler move
        // assignment wraps the handler in itself until the stack overflows.
        auto expected = std::max<std::size_t>(1, req.commands());
        auto wire = req.release_wire();
        auto bytes = wire.size();
        pending p{std::move(wire),
                  std::move(handler),
                  clock_type::now(),
                  bytes,
                  expected,
                  extra_time,
                  {},
                  {}};
        if (!open) {
            net::post(ex, net::append(std::move(p.handler), make_error_code(error::not_connected),
                                      reply{}));
            return;
        }
        if (queued.size() + in_flight.size() >= options.max_pending_requests ||
            pending_bytes + p.wire.size() > options.max_pending_bytes) {
            net::post(
                ex, net::append(std::move(p.handler), make_error_code(error::overloaded), reply{}));
            return;
        }
        pending_bytes += p.wire.size();
        queued.push_back(std::move(p));
        if (!writing) wake_writer.cancel();
    }

    // Ends the connection: every request still waiting fails with `why`.
    void shut(error why) {
        open = false;
        close_socket();
        wake_writer.cancel();
        watchdog.cancel();
        auto failed_in_flight = std::move(in_flight);
        auto failed_queued = std::move(queued);
        in_flight.clear();
        queued.clear();
        for (auto& p : failed_in_flight) complete(p, why, {});
        for (auto& p : failed_queued) complete(p, why, {});
        if (auto f = std::move(closed_callback))
            net::post(ex, [f = std::move(f), why] { f(make_error_code(why)); });
    }

    net::awaitable<void> writer() {
        auto self = shared_from_this();
        std::string buffer;
        while (open) {
            if (queued.empty()) {
                wake_writer.expires_at(clock_type::time_point::max());
                co_await wake_writer.async_wait(use_tuple);
                continue;
            }
            // Coalesce everything queued into one write: this is the pipelining.
            buffer.clear();
            auto now = clock_type::now();
            for (auto& p : queued) {
                buffer += p.wire;
                p.wire = std::string();
                p.sent = now;
                in_flight.push_back(std::move(p));
            }
            queued.clear();
            writing = true;
            write_started = now;
            auto [ec, n] = co_await write_all(net::buffer(buffer));
            writing = false;
            if (ec && open) shut(error::connection_lost);
        }
    }

    net::awaitable<void> reader() {
        auto self = shared_from_this();
        std::vector<char> buffer(read_chunk);
        while (open) {
            auto [ec, n] = co_await read_some(net::buffer(buffer));
            if (ec) {
                if (open) shut(error::connection_lost);
                co_return;
            }
            decoder.feed(buffer.data(), n);
            for (;;) {
                reply r;
                auto res = decoder.next(r);
                if (res == reply_decoder::result::need_more) break;
                if (res == reply_decoder::result::bad_input || in_flight.empty()) {
                    // Not RESP, or a reply nobody asked for: the stream can't be trusted.
                    shut(error::protocol_error);
                    co_return;
                }
                auto& front = in_flight.front();
                if (res == reply_decoder::result::too_large) {
                    // Skipped by the decoder: only this request fails; the stream is
                    // still in step, so the requests behind it are served.
                    const auto& skipped = decoder.skipped();
                    log::warn("Redis reply over the cap skipped",
                              {{"bytes", static_cast<std::uint64_t>(skipped.bytes)},
                               {"limit", static_cast<std::uint64_t>(options.limits.max_bytes)}});
                    if (options.on_reply_too_large) options.on_reply_too_large();
                    if (front.too_large.empty())
                        front.too_large = "Redis's reply was not read: " + skipped.reason;
                    r = reply{};
                }
                if (front.expected > 1) {
                    // A request of several commands completes with all its replies.
                    front.collected.type = reply::kind::array;
                    front.collected.elements.push_back(std::move(r));
                    if (front.collected.elements.size() < front.expected) continue;
                    r = std::move(front.collected);
                }
                auto p = std::move(front);
                in_flight.pop_front();
                complete_reply(p, std::move(r));
            }
        }
    }

    // Kills the connection when Redis stops answering: the oldest request without a
    // reply, or a write that cannot finish, older than dead_after.
    net::awaitable<void> watch() {
        auto self = shared_from_this();
        auto tick = std::max(std::chrono::milliseconds(5), options.dead_after / 4);
        while (open) {
            watchdog.expires_after(tick);
            co_await watchdog.async_wait(use_tuple);
            if (!open) co_return;
            auto now = clock_type::now();
            bool late_reply =
                !in_flight.empty() &&
                now - in_flight.front().sent > options.dead_after + in_flight.front().extra_time;
            bool stuck_write = writing && now - write_started > options.dead_after;
            bool never_sent = !queued.empty() && now - queued.front().sent > options.dead_after;
            if (late_reply || stuck_write || never_sent) shut(error::timeout);
        }
    }

    net::awaitable<error_code> open_transport(std::string& detail) {
        const auto& ep = options.endpoint;
        if (ep.kind == redis::endpoint::transport::unix_socket) {
            auto& s = stream.emplace<unix_socket>(ex);
            auto [ec] =
                co_await s.async_connect(net::local::stream_protocol::endpoint(ep.path), use_tuple);
            if (ec) detail = "cannot connect to " + ep.path + ": " + ec.message();
            co_return ec;
        }
        resolver.emplace(ex);
        auto [rec, results] =
            co_await resolver->async_resolve(ep.host, std::to_string(ep.port), use_tuple);
        if (rec) {
            detail = "cannot resolve " + ep.host + ": " + rec.message();
            co_return rec;
        }
        // The socket lives in `stream` while it connects, so the deadline can close it.
        auto& socket = stream.emplace<tcp::socket>(ex);
        auto [cec, peer] = co_await net::async_connect(socket, results, use_tuple);
        if (cec) {
            detail = "cannot connect to " + ep.display() + ": " + cec.message();
            co_return cec;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (ep.kind == redis::endpoint::transport::tcp) co_return error_code{};

        tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
        error_code ec;
        const auto& t = options.tls;
        if (t.ca_file.empty())
            tls_context->set_default_verify_paths(ec);
        else
            tls_context->load_verify_file(t.ca_file, ec);
        if (!ec && !t.cert_file.empty()) tls_context->use_certificate_chain_file(t.cert_file, ec);
        if (!ec && !t.key_file.empty())
            tls_context->use_private_key_file(t.key_file, ssl::context::pem, ec);
        if (ec) {
            detail = "TLS setup failed: " + ec.message();
            co_return ec;
        }
        auto plain = std::move(std::get<tcp::socket>(stream));
        auto& s = stream.emplace<std::unique_ptr<tls_stream>>(
            std::make_unique<tls_stream>(std::move(plain), *tls_context));
        std::string name = t.server_name.empty() ? ep.host : t.server_name;
        SSL_set_tlsext_host_name(s->native_handle(), name.c_str());
        if (t.verify) {
            s->set_verify_mode(ssl::verify_peer);
            s->set_verify_callback(ssl::host_name_verification(name));
        } else {
            s->set_verify_mode(ssl::verify_none);
        }
        auto [hec] = co_await s->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) detail = "TLS handshake with " + ep.display() + " failed: " + hec.message();
        co_return hec;
    }

    // The commands that open a session, encoded for one write, and their names for
    // messages. (Plain function: GCC 12 miscompiles braced lists inside coroutines.)
    void handshake_commands(std::string& wire, std::vector<std::string>& names) const {
        const auto& ep = options.endpoint;
        if (!ep.password.empty()) {
            if (ep.username.empty())
                encode_command(wire, {"AUTH", ep.password});
            else
                encode_command(wire, {"AUTH", ep.username, ep.password});
            names.push_back("AUTH");
        }
        if (ep.db != 0) {
            auto db = std::to_string(ep.db);
            encode_command(wire, {"SELECT", db});
            names.push_back("SELECT " + db);
        }
        if (!options.client_name.empty()) {
            encode_command(wire, {"CLIENT", "SETNAME", options.client_name});
            names.push_back("CLIENT SETNAME");
        }
        encode_command(wire, {"PING"});
        names.push_back("PING");
    }

    net::awaitable<error_code> handshake(std::string& detail) {
        std::string wire;
        std::vector<std::string> names;
        handshake_commands(wire, names);
        auto [wec, wn] = co_await write_all(net::buffer(wire));
        if (wec) {
            detail = "lost the connection during the handshake: " + wec.message();
            co_return wec;
        }
        std::vector<char> buffer(read_chunk);
        std::size_t answered = 0;
        while (answered < names.size()) {
            auto [ec, n] = co_await read_some(net::buffer(buffer));
            if (ec) {
                detail = "lost the connection during the handshake: " + ec.message();
                co_return ec;
            }
            decoder.feed(buffer.data(), n);
            reply r;
            for (;;) {
                auto res = decoder.next(r);
                if (res == reply_decoder::result::need_more) break;
                if (res == reply_decoder::result::bad_input) {
                    detail = "not a Redis server: " + decoder.error();
                    co_return make_error_code(error::protocol_error);
                }
                if (res == reply_decoder::result::too_large) {
                    detail = names[answered] + " answered " + decoder.skipped().reason;
                    co_return make_error_code(error::handshake_failed);
                }
                if (r.is_error()) {
                    detail = names[answered] + " refused: " + r.str;
                    co_return make_error_code(error::handshake_failed);
                }
                ++answered;
            }
        }
        co_return error_code{};
    }
};

connection::connection(executor_type ex, connection_options options)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(options))) {}

connection::~connection() {
    auto d = impl_;
    net::dispatch(d->ex, [d] {
        if (d->open) d->shut(error::closed);
    });
}

net::awaitable<boost::system::error_code> connection::connect(std::string& detail) {
    auto d = impl_;
    // One deadline for connect, TLS and the handshake: on expiry the socket is closed,
    // which fails whatever step is running.
    // `finished` guards against an expiry that was already queued when we cancel.
    struct deadline_state {
        bool finished = false;
        bool timed_out = false;
    };
    auto state = std::make_shared<deadline_state>();
    net::steady_timer deadline(d->ex);
    deadline.expires_after(d->options.connect_timeout);
    deadline.async_wait([d, state](error_code ec) {
        if (ec || state->finished) return;
        state->timed_out = true;
        d->close_socket();
    });
    auto ec = co_await d->open_transport(detail);
    if (!ec) ec = co_await d->handshake(detail);
    state->finished = true;
    deadline.cancel();
    if (state->timed_out) {
        detail = "no answer from " + d->options.endpoint.display() + " within " +
                 std::to_string(d->options.connect_timeout.count()) + " ms";
        ec = make_error_code(error::timeout);
    }
    if (ec) {
        d->close_socket();
        co_return ec;
    }
    d->open = true;
    net::co_spawn(d->ex, d->reader(), sluice::net::report_failure("redis reader"));
    net::co_spawn(d->ex, d->writer(), sluice::net::report_failure("redis writer"));
    net::co_spawn(d->ex, d->watch(), sluice::net::report_failure("redis watchdog"));
    co_return error_code{};
}

void connection::start_exec(request req, net::any_completion_handler<exec_signature> handler,
                            std::chrono::milliseconds extra_time) {
    if (sluice::net::is_running_in(impl_->ex))
        return impl_->enqueue(std::move(req), std::move(handler), extra_time);
    net::dispatch(impl_->ex,
                  [d = impl_, req = std::move(req), h = std::move(handler), extra_time]() mutable {
                      d->enqueue(std::move(req), std::move(h), extra_time);
                  });
}

void connection::on_close(std::function<void(boost::system::error_code)> f) {
    impl_->closed_callback = std::move(f);
}

std::size_t connection::pending() const {
    return impl_->queued.size() + impl_->in_flight.size();
}

void connection::close() {
    if (impl_->open) impl_->shut(error::closed);
}

bool connection::is_open() const {
    return impl_->open;
}

connection::executor_type connection::get_executor() const {
    return impl_->ex;
}

}  // namespace sluice::redis
