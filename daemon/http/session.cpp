#include "http/session.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <charconv>

#include "http/request_reader.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"

namespace sluice::http {
namespace {

// The request target as the access log shows it: an `access_token` query value (a
// credential, docs/security.md) is replaced, so no secret reaches the logs.
std::string loggable_target(std::string_view target) {
    std::string out(target);
    auto q = out.find('?');
    if (q == std::string::npos) return out;
    for (auto at = out.find("access_token=", q); at != std::string::npos;
         at = out.find("access_token=", at + 1)) {
        if (out[at - 1] != '?' && out[at - 1] != '&') continue;
        auto value = at + 13;
        auto end = out.find('&', value);
        out.replace(value, (end == std::string::npos ? out.size() : end) - value, "REDACTED");
    }
    return out;
}

namespace net = boost::asio;
namespace beast = boost::beast;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Bytes asked of the socket per read while waiting for a request to start, and
// while reading a body that did not come whole with its header.
constexpr std::size_t read_chunk = 4096;
constexpr std::size_t body_read_chunk = 64 * 1024;
// After an error response, how much of the unread request we swallow before
// closing, so the client reads our answer instead of a connection reset.
constexpr std::size_t linger_bytes = 256 * 1024;
constexpr std::chrono::milliseconds linger_time{500};

constexpr std::string_view server_header = "sluice";

// How long a connection accepted just before a drain may take to send its first request.
constexpr std::chrono::milliseconds drain_grace{1000};

// 1xx, 204 and 304 answers have no body, and so no Content-Length.
bool has_body(unsigned status) {
    return status >= 200 && status != 204 && status != 304;
}

}  // namespace

session::session(sluice::net::stream stream, shared_state& state, const worker_slot& worker,
                 connection_lease lease, bool admin)
    : stream_(std::move(stream))
    , timer_(stream_.get_executor())
    , state_(state)
    , worker_(worker)
    , lease_(std::move(lease)) {
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ = peer.address().to_string();
    admin_ = admin;
}

void session::arm(std::chrono::milliseconds timeout) {
    deadline_ = clock_type::now() + timeout;
    timed_out_ = false;
    // A wait already due no later than the new deadline wakes in time and waits on:
    // keep-alive traffic re-arms the idle deadline per request without timer calls.
    if (timer_waiting_ && timer_.expiry() <= deadline_) return;
    start_timer();
}

void session::start_timer() {
    timer_waiting_ = true;
    timer_.expires_at(deadline_);  // a wait it replaces completes as aborted, and is ignored
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self) return;
        self->timer_waiting_ = false;
        if (self->deadline_ == clock_type::time_point::max()) return;  // disarmed meanwhile
        if (clock_type::now() < self->deadline_) {
            self->start_timer();  // re-armed later meanwhile
            return;
        }
        self->deadline_ = clock_type::time_point::max();
        self->timed_out_ = true;
        self->stream_.cancel();
    });
}

void session::disarm() {
    deadline_ = clock_type::time_point::max();
}

void session::close_if_idle() {
    if (phase_ != phase::idle) return;
    if (served_ == 0) {
        // Accepted just before the drain: its first request may be on the way. Give
        // it a short deadline rather than dropping it.
        arm(drain_grace);
        return;
    }
    stream_.cancel();
}

void session::force_close() {
    stream_.cancel();
    stream_.close();
}

void session::format_head(const response& res, bool keep_alive) {
    auto status = res.result_int();
    auto& h = head_;
    h.clear();
    h += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
    h.append(digits, end);
    h += ' ';
    h += beast_http::obsolete_reason(res.result());
    h += "\r\nServer: ";
    h += server_header;
    h += "\r\n";
    for (const auto& f : res) {
        h += f.name_string();
        h += ": ";
        h += f.value();
        h += "\r\n";
    }
    if (has_body(status)) {
        end = std::to_chars(digits, digits + sizeof digits, res.body().size()).ptr;
        h += "Content-Length: ";
        h.append(digits, end);
        h += "\r\n";
    }
    if (!keep_alive)
        h += "Connection: close\r\n";
    else if (res.version() == 10)
        h += "Connection: keep-alive\r\n";
    h += "\r\n";
}

net::awaitable<bool> session::write(const response& res, bool keep_alive, bool head_only) {
    phase_ = phase::writing;
    format_head(res, keep_alive);
    std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(res.body())};
    if (head_only || !has_body(res.result_int())) buffers[1] = net::const_buffer();
    // Most answers fit the socket's send buffer: try without waiting, and only arm
    // the write deadline for what is left.
    beast::error_code ec;
    std::size_t sent = stream_.write_now(buffers, ec);
    std::size_t total = net::buffer_size(buffers);
    if (!ec && sent < total) {
        arm(state_.get_limits()->write_timeout);
        auto rest = beast::buffers_suffix<decltype(buffers)>(buffers);
        rest.consume(sent);
        std::size_t n = 0;
        std::tie(ec, n) = co_await stream_.write(rest);
        if (ec && timed_out_) state_.metrics.count_limit(metrics::limit::http_write_timeout);
        disarm();
    }
    co_return !ec;
}

net::awaitable<void> session::reject(const problem& p) {
    auto res = make_problem(p);
    auto started = clock_type::now();
    if (!co_await write(res, false, false)) co_return;
    state_.metrics.observe_request(
        "unmatched", "-", p.status,
        std::chrono::duration<double>(clock_type::now() - started).count());
    co_await linger_close();
}

net::awaitable<void> session::linger_close() {
    // Half-close, then read and drop what the client is still sending, for a bounded
    // time and size, so its kernel does not turn our last answer into a reset.
    arm(linger_time);
    co_await stream_.shutdown_send();
    std::size_t swallowed = 0;
    char sink[4096];
    while (swallowed < linger_bytes) {
        auto [rec, n] = co_await stream_.read_some(net::buffer(sink));
        if (rec) break;
        swallowed += n;
    }
    disarm();
}

net::awaitable<void> session::run() {
    auto self = shared_from_this();
    if (stream_.is_tls()) {
        // The handshake comes first and must end within the first-byte deadline, so a
        // silent or slow TLS client holds its slot no longer than a plain one.
        handshake_deadline_ = clock_type::now() + state_.get_limits()->first_byte_timeout;
        arm(state_.get_limits()->first_byte_timeout);
        auto ec = co_await stream_.handshake();
        bool timed_out = timed_out_;
        disarm();
        if (ec) {
            state_.metrics.count_tls_handshake_failure(timed_out ? "timeout" : "refused");
            if (!timed_out)
                log::debug("TLS handshake failed", {{"client", client_}, {"error", ec.message()}});
            stream_.close();
            co_return;
        }
    }
    for (;;) {
        if (state_.is_draining() && buffer_.size() == 0 && served_ > 0) break;

        if (buffer_.size() == 0) {
            // Waiting for the next request: the idle deadline applies, and a drain
            // may close us here.
            phase_ = phase::idle;
            // A body read in large steps leaves a large buffer: an idle connection
            // keeps no more than one small read's worth.
            if (buffer_.capacity() > read_chunk) buffer_.shrink_to_fit();
            // A connection accepted just before a drain gets its short drain deadline
            // here too, whichever of the two came first.
            // A new connection must start its first request soon: a silent one would
            // hold a slot for the whole idle timeout.
            auto lim = state_.get_limits();
            auto idle = served_ == 0 ? std::min(lim->idle_timeout, lim->first_byte_timeout)
                                     : lim->idle_timeout;
            // After a TLS handshake, the first request gets what is left of the same
            // deadline, not a second one.
            if (served_ == 0 && stream_.is_tls())
                idle =
                    std::max(std::chrono::milliseconds(1),
                             std::min(idle, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                handshake_deadline_ - clock_type::now())));
            arm(state_.is_draining() ? std::min(idle, drain_grace) : idle);
            auto [ec, n] = co_await stream_.read_some(buffer_.prepare(read_chunk));
            disarm();
            if (ec && timed_out_ && !state_.is_draining()) {
                if (served_ == 0)
                    state_.metrics.count_first_byte_timeout();
                else
                    state_.metrics.count_limit(metrics::limit::http_idle_timeout);
            }
            if (ec) break;  // peer closed, idle timeout or drain: nothing to answer
            buffer_.commit(n);
        }

        // Limits are read per request, so a reload reaches open connections too.
        auto lim = state_.get_limits();
        phase_ = phase::reading;
        fields_.release();  // the previous request is gone
        request_reader reader({lim->max_header_bytes, lim->max_body_bytes}, &fields_);
        // A request usually arrives whole in one read: parse it from the buffer, and
        // only wait (under the read deadline) for what is missing.
        auto st = reader.feed(buffer_);
        bool waited = st == request_reader::status::need_more;
        if (waited) arm(lim->read_timeout);
        bool answered_expect = false;
        beast::error_code ec;
        while (st == request_reader::status::need_more) {
            // An HTTP/1.0 client's expectation is ignored (RFC 9110, 10.1.1).
            if (!answered_expect && reader.is_header_done()) {
                answered_expect = true;
                const auto& head = reader.get();
                if (head.version() >= 11 &&
                    beast::iequals(head[beast_http::field::expect], "100-continue")) {
                    static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                    auto [wec, wn] = co_await stream_.write(net::buffer(go_on));
                    if ((ec = wec)) break;
                }
            }
            // Body bytes go straight to the parser: read them in larger steps.
            auto step = reader.is_header_done() ? body_read_chunk : read_chunk;
            auto [rec, n] = co_await stream_.read_some(buffer_.prepare(step));
            if ((ec = rec)) break;
            buffer_.commit(n);
            st = reader.feed(buffer_);
        }
        bool timed_out = waited && timed_out_;
        if (waited) disarm();
        if (st != request_reader::status::done) {
            // A named problem, not a braced temporary in co_await (GCC 12 coroutine bug).
            problem p;
            if (st == request_reader::status::failed)
                p = reader.failure();
            else if (timed_out)
                p = {408,
                     "request_timeout",
                     "Request timeout",
                     "the request was not received within " +
                         std::to_string(lim->read_timeout.count()) + " ms",
                     {}};
            // Otherwise the peer closed or reset mid-request: nobody to answer.
            if (!p.code.empty()) co_await reject(p);
            break;
        }

        phase_ = phase::handling;
        const auto& req = reader.get();
        if (!admin_ && state_.upgrade && boost::beast::websocket::is_upgrade(req) &&
            req.target().substr(0, req.target().find('?')) == state_.upgrade_path) {
            // The connection is the upgrade handler's from here on: its socket and its
            // lease go to it, and this session ends (drain and shutdown included).
            phase_ = phase::upgraded;
            ++served_;
            // Hand over the request and what was read after it, and free our buffer:
            // an idle WebSocket should hold as little as possible.
            auto data = buffer_.cdata();
            std::string leftover(static_cast<const char*>(data.data()), data.size());
            buffer_ = boost::beast::flat_buffer();
            auto upgrade_request = reader.release();
            disarm();
            timer_.cancel();
            state_.upgrade(std::move(stream_), std::move(upgrade_request), std::move(leftover),
                           worker_, std::move(lease_));
            co_return;
        }
        auto started = clock_type::now();
        peer_info from{client_, stream_.peer_identity(), admin_};
        auto out = co_await state_.api->dispatch(req, worker_, from);
        bool keep_alive = req.keep_alive() && !state_.is_draining();
        out.res.version(req.version());
        bool written = co_await write(out.res, keep_alive, req.method() == beast_http::verb::head);
        double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
        unsigned status = out.res.result_int();
        // A method Beast does not know is labelled OTHER: a client must not be able to
        // mint new metric series.
        std::string_view method = req.method() == beast_http::verb::unknown
                                      ? std::string_view("OTHER")
                                      : std::string_view(req.method_string());
        state_.metrics.observe_request(out.route, method, status, seconds);
        if (lim->access_log) {
            log::info("request", {{"method", std::string_view(req.method_string())},
                                  {"path", loggable_target(req.target())},
                                  {"status", status},
                                  {"duration_ms", seconds * 1000.0},
                                  {"bytes", out.res.body().size()}});
        }
        ++served_;
        if (!written) break;
        if (!keep_alive) {
            co_await linger_close();
            break;
        }
    }
    phase_ = phase::idle;
    if (stream_.is_tls()) arm(linger_time);  // close_notify, within bounds
    co_await stream_.shutdown_send();
    disarm();
    stream_.close();
}

}  // namespace sluice::http
