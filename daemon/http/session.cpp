#include "http/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "log/logger.hpp"
#include "metrics/registry.hpp"

namespace sluice::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Bytes asked of the socket per read while waiting for a request to start.
constexpr std::size_t read_chunk = 4096;
// After an error response, how much of the unread request we swallow before
// closing, so the client reads our answer instead of a connection reset.
constexpr std::size_t linger_bytes = 256 * 1024;
constexpr std::chrono::milliseconds linger_time{500};

constexpr std::string_view server_header = "sluice";

}  // namespace

session::session(net::ip::tcp::socket socket, shared_state& state)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), state_(state) {}

void session::arm(std::chrono::milliseconds timeout) {
    ++timer_generation_;
    timed_out_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait(
        [weak = weak_from_this(), generation = timer_generation_](beast::error_code ec) {
            if (ec) return;
            auto self = weak.lock();
            if (!self || self->timer_generation_ != generation) return;
            self->timed_out_ = true;
            beast::error_code ignored;
            self->socket_.cancel(ignored);
        });
}

void session::disarm() {
    ++timer_generation_;
    timer_.cancel();
}

void session::close_if_idle() {
    if (phase_ != phase::idle) return;
    if (served_ == 0) {
        // Accepted just before the drain: its first request may be on the way. Give
        // it a short deadline rather than dropping it.
        arm(std::chrono::seconds(1));
        return;
    }
    beast::error_code ignored;
    socket_.cancel(ignored);
}

void session::force_close() {
    beast::error_code ignored;
    socket_.cancel(ignored);
    socket_.close(ignored);
}

net::awaitable<bool> session::write(response& res, bool head_only) {
    phase_ = phase::writing;
    arm(state_.get_limits()->write_timeout);
    beast_http::response_serializer<beast_http::string_body> sr{res};
    // Not a ?: with a co_await in each arm: GCC 12 may evaluate both.
    boost::system::error_code ec;
    std::size_t n = 0;
    if (head_only)
        std::tie(ec, n) = co_await beast_http::async_write_header(socket_, sr, use_tuple);
    else
        std::tie(ec, n) = co_await beast_http::async_write(socket_, sr, use_tuple);
    disarm();
    co_return !ec;
}

net::awaitable<void> session::reject(const problem& p) {
    auto res = make_problem(p);
    res.keep_alive(false);
    res.set(beast_http::field::server, server_header);
    res.prepare_payload();
    auto started = clock_type::now();
    if (!co_await write(res, false)) co_return;
    state_.metrics.observe_request(
        "unmatched", "-", p.status,
        std::chrono::duration<double>(clock_type::now() - started).count());
    co_await linger_close();
}

net::awaitable<void> session::linger_close() {
    // Half-close, then read and drop what the client is still sending, for a bounded
    // time and size, so its kernel does not turn our last answer into a reset.
    beast::error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
    arm(linger_time);
    std::size_t swallowed = 0;
    char sink[4096];
    while (swallowed < linger_bytes) {
        auto [rec, n] = co_await socket_.async_read_some(net::buffer(sink), use_tuple);
        if (rec) break;
        swallowed += n;
    }
    disarm();
}

net::awaitable<void> session::run() {
    auto self = shared_from_this();
    for (;;) {
        if (state_.is_draining() && buffer_.size() == 0 && served_ > 0) break;

        if (buffer_.size() == 0) {
            // Waiting for the next request: the idle deadline applies, and a drain
            // may close us here.
            phase_ = phase::idle;
            arm(state_.get_limits()->idle_timeout);
            auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(read_chunk), use_tuple);
            disarm();
            if (ec) break;  // peer closed, idle timeout or drain: nothing to answer
            buffer_.commit(n);
        }

        // Limits are read per request, so a reload reaches open connections too.
        auto lim = state_.get_limits();
        phase_ = phase::reading;
        arm(lim->read_timeout);
        beast_http::request_parser<beast_http::string_body> parser;
        parser.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(lim->max_header_bytes, UINT32_MAX)));
        parser.body_limit(lim->max_body_bytes);
        auto [ec, n] = co_await beast_http::async_read_header(socket_, buffer_, parser, use_tuple);
        if (!ec && !parser.is_done()) {
            if (beast::iequals(parser.get()[beast_http::field::expect], "100-continue")) {
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                auto [wec, wn] = co_await net::async_write(socket_, net::buffer(go_on), use_tuple);
                ec = wec;
            }
            if (!ec)
                std::tie(ec, n) =
                    co_await beast_http::async_read(socket_, buffer_, parser, use_tuple);
        }
        bool timed_out = timed_out_;
        disarm();
        if (ec) {
            // A named problem, not a braced temporary in co_await (GCC 12 coroutine bug).
            problem p;
            if (timed_out) {
                p = {408,
                     "request_timeout",
                     "Request timeout",
                     "the request was not received within " +
                         std::to_string(lim->read_timeout.count()) + " ms",
                     {}};
            } else if (ec == beast_http::error::header_limit) {
                p = {431,
                     "headers_too_large",
                     "Request header fields too large",
                     "the request header exceeds " + std::to_string(lim->max_header_bytes) +
                         " bytes",
                     {}};
            } else if (ec == beast_http::error::body_limit) {
                p = {413,
                     "body_too_large",
                     "Request body too large",
                     "the request body exceeds " + std::to_string(lim->max_body_bytes) + " bytes",
                     {}};
            } else if (ec.category() ==
                           beast_http::make_error_code(beast_http::error::bad_target).category() &&
                       ec != beast_http::error::end_of_stream &&
                       ec != beast_http::error::partial_message) {
                // The bytes are not HTTP; the message names what the parser choked on.
                p = {400, "bad_request", "Malformed HTTP request", ec.message(), {}};
            }
            if (!p.code.empty()) co_await reject(p);
            break;
        }

        phase_ = phase::handling;
        const auto& req = parser.get();
        if (state_.upgrade && boost::beast::websocket::is_upgrade(req) &&
            req.target().substr(0, req.target().find('?')) == state_.upgrade_path) {
            // The connection is the upgrade handler's from here on (drain included).
            phase_ = phase::upgraded;
            ++served_;
            // Hand over the request and what was read after it, and free our buffer:
            // an idle WebSocket should hold as little as possible.
            auto data = buffer_.cdata();
            std::string leftover(static_cast<const char*>(data.data()), data.size());
            buffer_ = boost::beast::flat_buffer();
            auto upgrade_request = parser.release();
            co_await state_.upgrade(socket_, std::move(upgrade_request), std::move(leftover));
            break;
        }
        auto started = clock_type::now();
        auto out = co_await state_.api->dispatch(req);
        bool keep_alive = req.keep_alive() && !state_.is_draining();
        out.res.version(req.version());
        out.res.keep_alive(keep_alive);
        out.res.set(beast_http::field::server, server_header);
        out.res.prepare_payload();
        bool written = co_await write(out.res, req.method() == beast_http::verb::head);
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
                                  {"path", std::string_view(req.target())},
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
    beast::error_code ignored;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
}

}  // namespace sluice::http
