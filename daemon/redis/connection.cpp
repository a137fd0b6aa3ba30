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
#include <optional>
#include <variant>

#include "log/logger.hpp"
#include "net/executor.hpp"
#include "net/report_failure.hpp"
#include "redis/error.hpp"
#include "redis/multiplexer.hpp"

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
    // How far the session-opening commands have got (see handshake()).
    struct handshake_progress {
        std::vector<std::string> names;  // per command, for messages
        std::size_t answered = 0;
        error_code failed;
        std::string detail;
    };

    executor_type ex;
    connection_options options;
    std::unique_ptr<ssl::context> tls_context;  // declared first: outlives the stream using it
    std::variant<std::monostate, tcp::socket, unix_socket, std::unique_ptr<tls_stream>> stream;
    std::optional<tcp::resolver> resolver;
    multiplexer mux;  // the requests and their replies; this class only moves bytes
    handshake_progress opening;
    net::steady_timer wake_writer;
    net::steady_timer watchdog;
    bool open = false;
    std::function<void(error_code)> closed_callback;

    impl(executor_type e, connection_options o)
        : ex(std::move(e))
        , options(std::move(o))
        , mux(multiplexer_options{options.max_pending_requests, options.max_pending_bytes,
                                  options.limits,
                                  [this](const skipped_reply& skipped) { reply_skipped(skipped); },
                                  options.min_replicas, options.replica_timeout})
        , wake_writer(ex)
        , watchdog(ex) {}

    void reply_skipped(const skipped_reply& skipped) {
        log::warn("Redis reply over the cap skipped",
                  {{"bytes", static_cast<std::uint64_t>(skipped.bytes)},
                   {"limit", static_cast<std::uint64_t>(options.limits.max_bytes)}});
        if (options.on_reply_too_large) options.on_reply_too_large();
    }

    // A caller's handler as the multiplexer's completion. A request that got its reply
    // completes inline when its caller lives on this thread (the common case), which
    // saves a trip through the scheduler per reply; one that failed without a reply
    // (refused, or the connection ended) completes through the scheduler, never
    // inline, so its caller never re-enters while the connection shuts.
    completion completes(net::any_completion_handler<exec_signature> handler) {
        return [self = this, h = std::move(handler)](error_code ec, reply r) mutable {
            if (!ec || ec == error::reply_too_large)
                net::dispatch(net::append(std::move(h), ec, std::move(r)));
            else
                net::post(self->ex, net::append(std::move(h), ec, std::move(r)));
        };
    }

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

    // On the executor: queue one request for the writer, or refuse it.
    void enqueue(request req, net::any_completion_handler<exec_signature> handler,
                 std::chrono::milliseconds extra_time) {
        if (!open) {
            net::post(ex, net::append(std::move(handler), make_error_code(error::not_connected),
                                      reply{}));
            return;
        }
        if (mux.add(std::move(req), completes(std::move(handler)), clock_type::now(), extra_time) &&
            !mux.is_writing())
            wake_writer.cancel();
    }

    // Ends the connection: every request still waiting fails with `why`.
    void shut(error why) {
        open = false;
        close_socket();
        wake_writer.cancel();
        watchdog.cancel();
        mux.cancel_all(why);
        if (auto f = std::move(closed_callback))
            net::post(ex, [f = std::move(f), why] { f(make_error_code(why)); });
    }

    // Runs `loop(stream)` on whichever stream the connection has: the loops call the
    // stream's own operations, with no coroutine between them and the socket (each
    // costs a frame per call).
    template <typename Loop>
    net::awaitable<void> on_stream(Loop loop) {
        if (auto* tcp_stream = std::get_if<tcp::socket>(&stream))
            co_await loop(*tcp_stream);
        else if (auto* local = std::get_if<unix_socket>(&stream))
            co_await loop(*local);
        else if (auto* tls = std::get_if<std::unique_ptr<tls_stream>>(&stream))
            co_await loop(**tls);
    }

    // Waits for work, then writes everything queued since the last write in one write.
    template <typename Stream>
    net::awaitable<void> write_loop(Stream& s) {
        while (open) {
            if (!mux.has_unwritten()) {
                wake_writer.expires_at(clock_type::time_point::max());
                co_await wake_writer.async_wait(use_tuple);
                continue;
            }
            auto bytes = mux.prepare_write(clock_type::now());
            auto [ec, n] =
                co_await net::async_write(s, net::buffer(bytes.data(), bytes.size()), use_tuple);
            mux.commit_write(n);
            if (ec && open) shut(error::connection_lost);
        }
    }
    net::awaitable<void> writer() {
        auto self = shared_from_this();
        co_await on_stream([this](auto& s) { return write_loop(s); });
    }

    // Reads whatever Redis sends and hands it to the multiplexer, which completes the
    // requests whose replies are in.
    template <typename Stream>
    net::awaitable<void> read_loop(Stream& s) {
        std::vector<char> buffer(read_chunk);
        while (open) {
            auto [ec, n] = co_await s.async_read_some(net::buffer(buffer), use_tuple);
            if (ec) {
                if (open) shut(error::connection_lost);
                co_return;
            }
            if (mux.consume(std::string_view(buffer.data(), n))) {
                // Not RESP, or a reply nobody asked for: the stream can't be trusted.
                if (open) shut(error::protocol_error);
                co_return;
            }
            // A WAIT answered: what queued behind it goes out now.
            if (mux.has_unwritten()) wake_writer.cancel();
        }
    }
    net::awaitable<void> reader() {
        auto self = shared_from_this();
        co_await on_stream([this](auto& s) { return read_loop(s); });
    }

    // Kills the connection when Redis stops answering (see multiplexer::is_overdue).
    net::awaitable<void> watch() {
        auto self = shared_from_this();
        auto tick = std::max(std::chrono::milliseconds(5), options.dead_after / 4);
        while (open) {
            watchdog.expires_after(tick);
            co_await watchdog.async_wait(use_tuple);
            if (!open) co_return;
            if (mux.is_overdue(clock_type::now(), options.dead_after)) shut(error::timeout);
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

    // Queues the commands that open a session (AUTH, SELECT, CLIENT SETNAME, PING),
    // one request each so a refusal names its command. (Plain function: GCC 12
    // miscompiles braced lists inside coroutines.)
    void queue_handshake() {
        const auto& ep = options.endpoint;
        opening = {};
        std::vector<request> commands;
        if (!ep.password.empty()) {
            if (ep.username.empty())
                commands.push_back(command("AUTH", ep.password));
            else
                commands.push_back(command("AUTH", ep.username, ep.password));
            opening.names.push_back("AUTH");
        }
        if (ep.db != 0) {
            auto db = std::to_string(ep.db);
            commands.push_back(command("SELECT", db));
            opening.names.push_back("SELECT " + db);
        }
        if (!options.client_name.empty()) {
            commands.push_back(command("CLIENT", "SETNAME", options.client_name));
            opening.names.push_back("CLIENT SETNAME");
        }
        commands.push_back(command("PING"));
        opening.names.push_back("PING");
        auto now = clock_type::now();
        for (std::size_t i = 0; i < commands.size(); ++i) {
            mux.add(
                std::move(commands[i]),
                [self = this, i](error_code ec, const reply& r) {
                    auto& o = self->opening;
                    if (o.failed) return;
                    if (ec || r.is_error()) {
                        // A reply over the cap comes as an error reply saying so.
                        o.failed = make_error_code(error::handshake_failed);
                        o.detail = o.names[i] + (ec ? " answered: " : " refused: ") + r.str;
                        return;
                    }
                    ++o.answered;
                },
                now);
        }
    }

    net::awaitable<error_code> handshake(std::string& detail) {
        queue_handshake();
        auto wire = mux.prepare_write(clock_type::now());
        auto [wec, wn] = co_await write_all(net::buffer(wire.data(), wire.size()));
        mux.commit_write(wn);
        if (wec) {
            detail = "lost the connection during the handshake: " + wec.message();
            co_return wec;
        }
        std::vector<char> buffer(read_chunk);
        while (opening.answered < opening.names.size() && !opening.failed) {
            auto [ec, n] = co_await read_some(net::buffer(buffer));
            if (ec) {
                detail = "lost the connection during the handshake: " + ec.message();
                co_return ec;
            }
            if (mux.consume(std::string_view(buffer.data(), n)) && !opening.failed) {
                detail = "not a Redis server: " + mux.broken_reason();
                co_return make_error_code(error::protocol_error);
            }
        }
        if (opening.failed) detail = opening.detail;
        co_return opening.failed;
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
        d->mux.cancel_all(error::closed);  // the handshake's requests, if any are left
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
    return impl_->mux.pending();
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
