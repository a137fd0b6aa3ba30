#include "deliver/ws_transport.hpp"

#include <simdjson.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <vector>

#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The read buffer of every socket on this thread. Outside the coroutine on purpose:
// a thread_local declared in a coroutine body may end up in its frame (GCC 12),
// which would cost each connection the whole buffer.
std::array<char, 64 * 1024>& read_chunk() {
    thread_local std::array<char, 64 * 1024> chunk;
    return chunk;
}

// What a TLS connection reads per step (one TLS record at most).
constexpr std::size_t tls_read_step = 16 * 1024;

}  // namespace

ws_transport::ws_transport(sluice::net::stream stream, http::connection_lease lease,
                           ws_handler& handler, metrics::registry& metrics,
                           ws_transport_limits limits)
    : stream_(std::move(stream))
    , lease_(std::move(lease))
    , handler_(handler)
    , metrics_(metrics)
    , limits_(limits)
    , reader_(limits_.max_message_bytes)
    , queue_(limits_.max_queued_bytes)
    , writer_wake_(stream_.get_executor())
    , stuck_timer_(stream_.get_executor()) {
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ = peer.address().to_string();
}

void ws_transport::report_defect(const char* where, const std::exception_ptr& e) {
    if (!e) return;
    log::error("connection failed and was closed",
               {{"where", where}, {"client", client_}, {"error", sluice::net::what_of(e)}});
    metrics_.count_internal_error(where);
}

void ws_transport::task_failed(const char* where, std::exception_ptr e) {
    if (!e) return;
    report_defect(where, e);
    close(1011, "internal error");
}

ws_transport::~ws_transport() = default;

void ws_transport::send(out_frame f) {
    if (queue_.closing()) return;
    bool fits = queue_.push(std::move(f), clock_type::now());
    writer_wake_.cancel();
    if (!fits) overflow();
}

void ws_transport::send_text(std::string text) {
    out_frame f;
    f.head = std::move(text);
    send(std::move(f));
}

void ws_transport::overflow() {
    log::warn("websocket closed: the client lets its frames pile up",
              {{"max_queued_bytes", limits_.max_queued_bytes},
               {"queued_bytes", queue_.queued_bytes()},
               {"queued_frames", queue_.queued_frames()}});
    metrics_.count_websocket_overflow();
    close(1008, "more than " + std::to_string(limits_.max_queued_bytes) +
                    " bytes queued toward the client");
    // A client this far behind will not read a close frame soon: if it cannot be
    // written within a second, the socket is cut.
    arm_cut(std::chrono::seconds(1));
}

void ws_transport::arm_cut(clock_type::duration after) {
    stuck_timer_.expires_after(after);
    stuck_timer_.async_wait([this, owner = owner_.lock()](beast::error_code tec) {
        if (tec || served_) return;  // serve() is over: the socket is closed
        stream_.close();
    });
}

void ws_transport::close(std::uint16_t code, std::string_view reason) {
    auto unsent = queue_.close(code, reason);
    // The handler releases what the frames not yet written hold (their credit).
    if (!unsent.empty()) handler_.on_unsent(unsent);
    writer_wake_.cancel();
}

std::string ws_transport::handshake_answer(const http::request& req, bool& accepted) {
    auto key = req["Sec-WebSocket-Key"];
    std::string_view problem;
    if (req.method() != beast::http::verb::get)
        problem = "a WebSocket handshake is a GET";
    else if (req["Sec-WebSocket-Version"] != "13")
        problem = "Sec-WebSocket-Version must be 13";
    else if (!ws_valid_client_key(key))
        problem = "Sec-WebSocket-Key must be 16 bytes in base64";
    accepted = problem.empty();
    if (accepted)
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
               "Upgrade\r\nServer: sluice\r\nSec-WebSocket-Accept: " +
               ws_accept_key(key) + "\r\n\r\n";
    std::string body = std::string(problem) + "\n";
    return "HTTP/1.1 400 Bad Request\r\nServer: sluice\r\nSec-WebSocket-Version: "
           "13\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

void ws_transport::start(const http::request& req, std::string leftover,
                         std::shared_ptr<void> owner, std::string refusal) {
    // Only the answer is kept for the connection's long wait, not the request.
    bool accepted = false;
    auto answer = refusal.empty() ? handshake_answer(req, accepted) : std::move(refusal);
    owner_ = owner;
    net::co_spawn(stream_.get_executor(),
                  serve(owner, std::move(answer), accepted, std::move(leftover)),
                  [this, owner](std::exception_ptr e) {
                      // serve() catches what its handler throws; this is the last resort.
                      report_defect("websocket_session", e);
                      if (e) cut();
                  });
}

net::awaitable<void> ws_transport::finish_socket() {
    // TLS says goodbye (close_notify) within a second; then the socket closes.
    if (stream_.is_tls()) arm_cut(std::chrono::seconds(1));
    co_await stream_.shutdown_send();
    stuck_timer_.cancel();
    stream_.close();
}

void ws_transport::cut() {
    stream_.close();
}

net::awaitable<void> ws_transport::serve(std::shared_ptr<void> owner, std::string answer,
                                         bool accepted, std::string leftover) {
    arm_cut(limits_.send_timeout);
    auto [hec, hn] = co_await stream_.write(net::buffer(answer));
    stuck_timer_.cancel();
    if (hec || !accepted) {
        co_await finish_socket();
        served_ = true;
        co_return;
    }
    std::string().swap(answer);
    in_ = std::move(leftover);

    metrics_.websocket_opened();
    last_heard_ = clock_type::now();
    writer_running_ = true;
    net::co_spawn(stream_.get_executor(), write_loop(owner), [this, owner](std::exception_ptr e) {
        report_defect("websocket_writer", e);
        writer_running_ = false;
        if (done_) done_->cancel();
        stream_.cancel();  // ends the read loop too
    });
    handler_.on_open();
    // A defect in handling one message closes this connection alone, and still
    // through the steps below: the handler must let go of everything it joined.
    std::exception_ptr defect;
    try {
        co_await read_loop();
    } catch (...) {
        defect = std::current_exception();
    }

    handler_.on_read_end();
    if (defect) {
        report_defect("websocket_session", defect);
        close(1011, "internal error");
    } else if (!queue_.closing()) {
        close(1000, "");  // the peer vanished or broke the protocol
    }
    // The writer sends what is left (a close frame at most) and ends.
    writer_wake_.cancel();
    net::steady_timer done(stream_.get_executor());
    done_ = &done;
    while (writer_running_) {
        done.expires_after(std::chrono::seconds(5));
        auto [wec] = co_await done.async_wait(use_tuple);
        if (!wec && writer_running_) {  // the writer is stuck: cut the socket
            stream_.close();
        }
    }
    co_await finish_socket();
    served_ = true;
    done_ = nullptr;
    stuck_timer_.cancel();
    handler_.on_closed();
    metrics_.websocket_closed();
}

net::awaitable<void> ws_transport::read_loop() {
    // Waiting costs no buffer: wait until the socket is readable, then read what is
    // there into a per-thread buffer. Only an incomplete frame stays (in in_).
    auto& chunk = read_chunk();
    for (;;) {
        for (;;) {
            ws_frame_reader::event ev;
            auto r = reader_.next(in_, ev);
            if (r == ws_frame_reader::result::need_more) break;
            if (r == ws_frame_reader::result::error) {
                log::info("websocket closed: protocol error", {{"error", reader_.error_text}});
                if (reader_.close_code == 1009)
                    metrics_.count_limit(metrics::limit::websocket_max_message_bytes);
                close(reader_.close_code, reader_.error_text);
                co_return;
            }
            if (r == ws_frame_reader::result::control) {
                if (ev.op == ws_opcode::ping) {
                    if (!queue_.closing()) {
                        queue_.answer_ping(ev.payload);
                        writer_wake_.cancel();
                    }
                } else if (ev.op == ws_opcode::close) {
                    // Answer with the peer's code (1000 when it gave none), then end.
                    std::uint16_t code = 1000;
                    if (ev.payload.size() >= 2)
                        code = static_cast<std::uint16_t>(
                            (static_cast<unsigned char>(ev.payload[0]) << 8) |
                            static_cast<unsigned char>(ev.payload[1]));
                    if (!queue_.closing()) close(code, "");
                    co_return;
                }
                continue;
            }
            if (queue_.closing()) continue;  // read until the peer answers our close
            if (ev.op != ws_opcode::text) {
                handler_.on_binary();
                continue;
            }
            // RFC 6455, 8.1: a text message that is not UTF-8 fails the connection.
            if (!simdjson::validate_utf8(ev.payload.data(), ev.payload.size())) {
                log::info("websocket closed: text frame not UTF-8", {});
                close(1007, "a text message that is not UTF-8");
                co_return;
            }
            co_await handler_.on_text(ev.payload);
        }
        if (in_.empty()) std::string().swap(in_);  // an idle socket keeps no buffer

        if (stream_.is_tls()) {
            // OpenSSL decrypts into the buffer when the read completes, after other
            // connections' handlers may have run: not the shared chunk, a buffer of
            // this connection's own (a TLS connection holds its record buffers anyway).
            auto have = in_.size();
            in_.resize(have + tls_read_step);
            auto [rec, n] =
                co_await stream_.read_some(net::buffer(in_.data() + have, tls_read_step));
            in_.resize(have + (rec ? 0 : n));
            if (rec) co_return;
            last_heard_ = clock_type::now();
            continue;
        }
        auto& socket = stream_.socket();
        auto [ec] = co_await socket.async_wait(net::ip::tcp::socket::wait_read, use_tuple);
        if (ec) co_return;
        boost::system::error_code rec;
        auto n = socket.read_some(net::buffer(chunk), rec);
        if (rec == net::error::would_block || rec == net::error::try_again) continue;
        if (rec) co_return;
        last_heard_ = clock_type::now();
        in_.append(chunk.data(), n);
    }
}

void ws_transport::keepalive_tick() {
    auto silent = clock_type::now() - last_heard_;
    if (silent >= limits_.ping_interval * 2) {
        log::info("websocket closed: no answer to pings",
                  {{"ping_interval_ms", limits_.ping_interval.count()}});
        metrics_.count_limit(metrics::limit::websocket_ping_interval);
        stream_.close();
        return;
    }
    // Ticks come about one interval apart: a peer heard from just after the previous
    // tick is pinged now too, or it would be silent for two intervals at the next tick
    // without ever having been asked.
    if (silent >= limits_.ping_interval / 2) {
        queue_.ping();
        writer_wake_.cancel();
    }
    queue_.release_if_idle();  // idle: give the write buffers back
}

net::awaitable<void> ws_transport::write_loop(std::shared_ptr<void> owner) {
    // The writer also keeps the connection alive: it pings a quiet peer and gives
    // buffers back while idle (one coroutine less per connection).
    auto next_tick = clock_type::now() + limits_.ping_interval;
    for (;;) {
        if (!queue_.closing() && clock_type::now() >= next_tick) {
            keepalive_tick();
            next_tick = clock_type::now() + limits_.ping_interval;
        }
        if (!queue_.has_work()) {
            if (queue_.closing()) break;
            writer_wake_.expires_at(next_tick);
            co_await writer_wake_.async_wait(use_tuple);
            continue;
        }
        if (queue_.waited_longer_than(limits_.send_timeout, clock_type::now())) {
            log::warn("websocket closed: the client does not read its frames",
                      {{"send_timeout_ms", limits_.send_timeout.count()},
                       {"queued_frames", queue_.queued_frames()}});
            metrics_.count_limit(metrics::limit::websocket_send_timeout);
            close(1008, "send queue not drained within " +
                            std::to_string(limits_.send_timeout.count()) + " ms");
        }
        queue_.begin_write();
        const auto& out = queue_.write_bytes();
        // A write that cannot finish at all (the peer reads nothing) is cut.
        stuck_timer_.expires_after(limits_.send_timeout * 2);
        stuck_timer_.async_wait([this, owner, unwritten = out.size()](beast::error_code tec) {
            if (tec || served_) return;  // serve() is over: the socket is closed
            log::warn("websocket closed: the client does not read its frames",
                      {{"send_timeout_ms", limits_.send_timeout.count()},
                       {"unwritten_bytes", unwritten}});
            stream_.close();
        });
        boost::system::error_code ec;
        const auto& pieces = queue_.write_pieces();
        if (pieces.empty()) {
            std::tie(ec, std::ignore) = co_await stream_.write(net::buffer(out));
        } else {
            // The bytes up to each shared body, the body, and so on: one gathered write.
            std::vector<net::const_buffer> gather;
            gather.reserve(2 * pieces.size() + 1);
            std::size_t at = 0;
            for (const auto& p : pieces) {
                gather.emplace_back(out.data() + at, p.offset - at);
                gather.emplace_back(p.body->data(), p.body->size());
                at = p.offset;
            }
            gather.emplace_back(out.data() + at, out.size() - at);
            std::tie(ec, std::ignore) = co_await stream_.write(gather);
        }
        stuck_timer_.cancel();
        auto receipts = queue_.write_receipts();
        if (!receipts.empty()) handler_.on_written(receipts, !ec);
        bool closes = queue_.write_closes();
        queue_.end_write();
        if (ec) break;
        if (closes) {
            // The peer answers our close and closes; give it a moment, then cut.
            arm_cut(std::chrono::seconds(2));
            break;
        }
    }
    queue_.release_write_buffer();
}

}  // namespace sluice::deliver
