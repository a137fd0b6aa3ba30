#include "deliver/ws_session.hpp"

#include <simdjson.h>
#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/verb.hpp>

#include "catalog/schema_catalog.hpp"
#include "deliver/fanout.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "store/stream_store.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// The read buffer of every socket on this thread. Outside the coroutine on purpose:
// a thread_local declared in a coroutine body may end up in its frame (GCC 12),
// which would cost each connection the whole buffer.
std::array<char, 64 * 1024>& read_chunk() {
    thread_local std::array<char, 64 * 1024> chunk;
    return chunk;
}

std::string list_ids(const std::vector<std::string>& ids) {
    std::string out;
    for (std::size_t i = 0; i < ids.size() && i < 5; ++i) {
        if (i) out += ", ";
        out += ids[i];
    }
    if (ids.size() > 5) out += ", ... (" + std::to_string(ids.size()) + " in all)";
    return out;
}

}  // namespace

ws_session::ws_session(net::ip::tcp::socket socket, hub& h, http::connection_lease lease)
    : socket_(std::move(socket))
    , hub_(h)
    , lease_(std::move(lease))
    , limits_(h.limits())
    , reader_(limits_.max_message_bytes)
    , writer_wake_(socket_.get_executor())
    , stuck_timer_(socket_.get_executor()) {}

ws_session::~ws_session() = default;

void ws_session::send(out_frame f) {
    if (closing_) return;
    queued_bytes_ += frame_bytes(f);
    queue_.push_back({std::move(f), clock_type::now()});
    writer_wake_.cancel();
    if (queued_bytes_ + control_.size() > limits_.max_queued_bytes) overflow();
}

std::size_t ws_session::frame_bytes(const out_frame& f) {
    return f.head.size() + (f.body ? f.body->size() + 1 : 0);
}

void ws_session::overflow() {
    log::warn("websocket closed: the client lets its frames pile up",
              {{"max_queued_bytes", limits_.max_queued_bytes},
               {"queued_bytes", queued_bytes_ + control_.size()},
               {"queued_frames", queue_.size() - queue_head_}});
    hub_.metrics().count_websocket_overflow();
    close_with(1008, "more than " + std::to_string(limits_.max_queued_bytes) +
                         " bytes queued toward the client");
    // A client this far behind will not read a close frame soon: if it cannot be
    // written within a second, the socket is cut.
    stuck_timer_.expires_after(std::chrono::seconds(1));
    stuck_timer_.async_wait([this, self = shared_from_this()](beast::error_code tec) {
        if (tec || served_) return;  // serve() is over: the socket is closed
        beast::error_code ignored;
        socket_.close(ignored);
    });
}

void ws_session::send_text(std::string text) {
    out_frame f;
    f.head = std::move(text);
    send(std::move(f));
}

void ws_session::send_error(const frame_error& e) {
    send_text(error_frame(e));
}

void ws_session::send_control(ws_opcode op, std::string_view payload) {
    append_ws_frame_header(control_, op, payload.size());
    control_ += payload;
    writer_wake_.cancel();
}

void ws_session::drop_queue() {
    // Frames not yet written stay with Redis: their entries become due elsewhere.
    for (auto i = queue_head_; i < queue_.size(); ++i)
        if (auto& s = queue_[i].frame.fanout) --s->queued;
    queue_.clear();
    queue_head_ = 0;
    queued_bytes_ = 0;
    pong_.reset();
}

void ws_session::close_with(std::uint16_t code, std::string_view reason) {
    if (closing_) return;
    closing_ = true;
    drop_queue();
    append_ws_close_frame(control_, code, reason);
    writer_wake_.cancel();
}

void ws_session::close_going_away() {
    close_with(1001, "server shutting down");
}

std::string ws_session::handshake_answer(const http::request& req, bool& accepted) {
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

void ws_session::start(http::request req, std::string leftover) {
    // The request is gone before the connection's long wait: only the answer is kept.
    bool accepted = false;
    auto answer = handshake_answer(req, accepted);
    net::co_spawn(socket_.get_executor(),
                  serve(shared_from_this(), std::move(answer), accepted, std::move(leftover)),
                  sluice::net::report_failure("websocket session"));
}

void ws_session::cut() {
    beast::error_code ignored;
    socket_.close(ignored);
}

net::awaitable<void> ws_session::serve(std::shared_ptr<ws_session> self, std::string answer,
                                       bool accepted, std::string leftover) {
    stuck_timer_.expires_after(limits_.send_timeout);
    stuck_timer_.async_wait([this, self](beast::error_code tec) {
        if (tec || served_) return;  // serve() is over: the socket is closed
        beast::error_code ignored;
        socket_.close(ignored);
    });
    auto [hec, hn] = co_await net::async_write(socket_, net::buffer(answer), use_tuple);
    stuck_timer_.cancel();
    if (hec || !accepted) {
        served_ = true;
        beast::error_code ignored;
        socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
        socket_.close(ignored);
        co_return;
    }
    std::string().swap(answer);
    in_ = std::move(leftover);

    hub_.add_session(this);
    hub_.metrics().websocket_opened();
    last_heard_ = clock_type::now();
    writer_running_ = true;
    net::co_spawn(socket_.get_executor(), write_loop(), [this, self](std::exception_ptr e) {
        sluice::net::report_failure("websocket writer")(e);
        writer_running_ = false;
        if (done_) done_->cancel();
        beast::error_code ignored;
        socket_.cancel(ignored);  // ends the read loop too
    });
    if (hub_.draining()) close_going_away();
    co_await read_loop();

    for (auto& [id, e] : subs_) drop(e);
    subs_.clear();
    if (!closing_) close_with(1000, "");  // the peer vanished or broke the protocol
    // The writer sends what is left (a close frame at most) and ends.
    writer_wake_.cancel();
    net::steady_timer done(socket_.get_executor());
    done_ = &done;
    while (writer_running_) {
        done.expires_after(std::chrono::seconds(5));
        auto [wec] = co_await done.async_wait(use_tuple);
        if (!wec && writer_running_) {  // the writer is stuck: cut the socket
            beast::error_code ignored;
            socket_.close(ignored);
        }
    }
    served_ = true;
    {
        beast::error_code ignored;
        socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
        socket_.close(ignored);
    }
    done_ = nullptr;
    stuck_timer_.cancel();
    hub_.remove_session(this);
    hub_.metrics().websocket_closed();
}

net::awaitable<void> ws_session::read_loop() {
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
                close_with(reader_.close_code, reader_.error_text);
                co_return;
            }
            if (r == ws_frame_reader::result::control) {
                if (ev.op == ws_opcode::ping) {
                    // RFC 6455, 5.5.3: only the latest ping needs an answer, so a
                    // client that pings and never reads holds one pong, not a pile.
                    if (!closing_) {
                        pong_ = ev.payload;
                        writer_wake_.cancel();
                    }
                } else if (ev.op == ws_opcode::close) {
                    // Answer with the peer's code (1000 when it gave none), then end.
                    std::uint16_t code = 1000;
                    if (ev.payload.size() >= 2)
                        code = static_cast<std::uint16_t>(
                            (static_cast<unsigned char>(ev.payload[0]) << 8) |
                            static_cast<unsigned char>(ev.payload[1]));
                    if (!closing_) close_with(code, "");
                    co_return;
                }
                continue;
            }
            if (closing_) continue;  // read until the peer answers our close
            if (ev.op != ws_opcode::text) {
                send_error({"", "invalid_frame", "frames must be JSON text frames, not binary"});
                continue;
            }
            // RFC 6455, 8.1: a text message that is not UTF-8 fails the connection.
            if (!simdjson::validate_utf8(ev.payload.data(), ev.payload.size())) {
                log::info("websocket closed: text frame not UTF-8", {});
                close_with(1007, "a text message that is not UTF-8");
                co_return;
            }
            co_await handle(ev.payload);
        }
        if (in_.empty()) std::string().swap(in_);  // an idle socket keeps no buffer

        auto [ec] = co_await socket_.async_wait(net::ip::tcp::socket::wait_read, use_tuple);
        if (ec) co_return;
        boost::system::error_code rec;
        auto n = socket_.read_some(net::buffer(chunk), rec);
        if (rec == net::error::would_block || rec == net::error::try_again) continue;
        if (rec) co_return;
        last_heard_ = clock_type::now();
        in_.append(chunk.data(), n);
    }
}

void ws_session::keepalive_tick() {
    auto silent = clock_type::now() - last_heard_;
    if (silent >= limits_.ping_interval * 2) {
        log::info("websocket closed: no answer to pings",
                  {{"ping_interval_ms", limits_.ping_interval.count()}});
        beast::error_code ignored;
        socket_.close(ignored);
        return;
    }
    // Ticks come about one interval apart: a peer heard from just after the previous
    // tick is pinged now too, or it would be silent for two intervals at the next tick
    // without ever having been asked.
    if (silent >= limits_.ping_interval / 2) send_control(ws_opcode::ping, "");
    if (queue_head_ == queue_.size() && control_.empty() && !pong_) {
        std::string().swap(out_);  // idle: give the write buffers back
        std::vector<queued>().swap(queue_);
    }
}

net::awaitable<void> ws_session::write_loop() {
    auto self = shared_from_this();
    constexpr std::size_t batch_bytes = 256 * 1024;
    constexpr std::size_t shared_body_bytes = 1024;  // bodies this large are not copied
    constexpr std::size_t max_pieces = 64;           // Asio's gather limit per writev
    std::vector<std::shared_ptr<subscription>> written_fanout;
    std::vector<std::uint64_t> written_ms;
    // The writer also keeps the connection alive: it pings a quiet peer and gives
    // buffers back while idle (one coroutine less per connection).
    auto next_tick = clock_type::now() + limits_.ping_interval;
    for (;;) {
        if (!closing_ && clock_type::now() >= next_tick) {
            keepalive_tick();
            next_tick = clock_type::now() + limits_.ping_interval;
        }
        bool data = queue_head_ < queue_.size();
        if (!data && control_.empty() && !pong_) {
            if (closing_) break;
            writer_wake_.expires_at(next_tick);
            co_await writer_wake_.async_wait(use_tuple);
            continue;
        }
        if (data && clock_type::now() - queue_[queue_head_].at > limits_.send_timeout) {
            log::warn("websocket closed: the client does not read its frames",
                      {{"send_timeout_ms", limits_.send_timeout.count()},
                       {"queued_frames", queue_.size() - queue_head_}});
            close_with(1008, "send queue not drained within " +
                                 std::to_string(limits_.send_timeout.count()) + " ms");
        }
        // Control frames first, then as many data frames as fit one write.
        out_.clear();
        if (pong_) {
            append_ws_frame_header(out_, ws_opcode::pong, pong_->size());
            out_ += *pong_;
            pong_.reset();
        }
        out_ += control_;
        control_.clear();
        bool closes = closing_ && queue_head_ == queue_.size();
        // An event's JSON is shared by every socket it goes to: a large one is written
        // from where it is (a buffer of its own in the write), a small one is copied
        // into out_ (cheaper than one more piece of the gather list).
        std::size_t batched = 0;
        while (queue_head_ < queue_.size() && batched < batch_bytes) {
            auto& f = queue_[queue_head_++].frame;
            std::size_t size = frame_bytes(f);
            queued_bytes_ -= size;
            batched += size;
            append_ws_frame_header(out_, ws_opcode::text, size);
            out_ += f.head;
            if (f.body && f.body->size() >= shared_body_bytes && pieces_.size() + 2 < max_pieces) {
                pieces_.push_back({out_.size(), std::move(f.body)});
                out_ += '}';
            } else if (f.body) {
                out_ += *f.body;
                out_ += '}';
            }
            if (f.fanout) written_fanout.push_back(std::move(f.fanout));
            if (f.entry_ms) written_ms.push_back(f.entry_ms);
        }
        if (queue_head_ == queue_.size()) {
            queue_.clear();
            queue_head_ = 0;
        }
        // A write that cannot finish at all (the peer reads nothing) is cut.
        stuck_timer_.expires_after(limits_.send_timeout * 2);
        stuck_timer_.async_wait([this, self](beast::error_code tec) {
            if (tec || served_) return;  // serve() is over: the socket is closed
            log::warn("websocket closed: the client does not read its frames",
                      {{"send_timeout_ms", limits_.send_timeout.count()},
                       {"unwritten_bytes", out_.size()}});
            beast::error_code ignored;
            socket_.close(ignored);
        });
        boost::system::error_code ec;
        if (pieces_.empty()) {
            std::tie(ec, std::ignore) =
                co_await net::async_write(socket_, net::buffer(out_), use_tuple);
        } else {
            // out_ up to each shared body, the body, and so on: one gathered write.
            std::vector<net::const_buffer> gather;
            gather.reserve(2 * pieces_.size() + 1);
            std::size_t at = 0;
            for (const auto& [offset, body] : pieces_) {
                gather.emplace_back(out_.data() + at, offset - at);
                gather.emplace_back(body->data(), body->size());
                at = offset;
            }
            gather.emplace_back(out_.data() + at, out_.size() - at);
            std::tie(ec, std::ignore) = co_await net::async_write(socket_, gather, use_tuple);
            pieces_.clear();
        }
        stuck_timer_.cancel();
        for (auto& s : written_fanout) {
            --s->queued;
            if (s->on_credit) s->on_credit();
        }
        written_fanout.clear();
        if (ec) break;
        if (!written_ms.empty()) {
            auto now = now_ms();
            for (auto ms : written_ms)
                hub_.metrics().observe_delivery_latency(
                    now > ms ? static_cast<double>(now - ms) / 1000.0 : 0.0);
            written_ms.clear();
        }
        if (closes) {
            close_written_ = true;
            // The peer answers our close and closes; give it a moment, then cut.
            stuck_timer_.expires_after(std::chrono::seconds(2));
            stuck_timer_.async_wait([this, self](beast::error_code tec) {
                if (tec || served_) return;  // serve() is over: the socket is closed
                beast::error_code ignored;
                socket_.close(ignored);
            });
            break;
        }
        // Nothing more to send: a socket with little traffic keeps no buffer; a busy
        // one keeps it until the keepalive finds it idle.
        if (queue_head_ == queue_.size() && out_.capacity() <= 4096) {
            std::string().swap(out_);
            std::vector<queued>().swap(queue_);
        }
    }
    if (out_.capacity() > 0) std::string().swap(out_);
}

net::awaitable<void> ws_session::handle(std::string_view text) {
    auto parsed = parse_client_frame(text);
    if (!parsed.frame) {
        send_error(parsed.error);
        co_return;
    }
    const auto& f = *parsed.frame;
    if (f.op == client_frame::kind::subscribe) {
        co_await subscribe(f);
        co_return;
    }
    auto it = subs_.find(f.sub);
    if (it == subs_.end()) {
        send_error({f.sub, "unknown_subscription",
                    "no subscription \"" + f.sub + "\" on this connection"});
        co_return;
    }
    auto& e = it->second;
    if (f.op == client_frame::kind::unsubscribe) {
        drop(e);
        subs_.erase(it);
        send_text(unsubscribed_frame(f.sub, "requested"));
        co_return;
    }
    if (!e.reader) {
        send_error({f.sub, "not_a_group_subscription",
                    "ack, nack and extend apply to subscriptions with a `group`; fan-out "
                    "subscriptions need none"});
        co_return;
    }
    std::vector<std::string> unknown;
    if (f.op == client_frame::kind::ack) {
        e.reader->ack(*e.sub, f.entries);
    } else {
        // Each id once: a frame repeating one id must not cost a Redis command per copy.
        auto ids = f.entries;
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        if (f.op == client_frame::kind::nack)
            unknown = e.reader->nack(*e.sub, ids, f.delay_ms, f.reason);
        else
            unknown = e.reader->extend(*e.sub, ids);
    }
    if (!unknown.empty())
        send_error({f.sub, "unknown_entries",
                    "not held by this subscription (unknown, already acked, or past their "
                    "deadline): " +
                        list_ids(unknown)});
}

net::awaitable<void> ws_session::subscribe(const client_frame& f) {
    if (hub_.draining()) {
        send_error({f.id, "draining", "the broker is shutting down; subscribe elsewhere"});
        co_return;
    }
    if (subs_.count(f.id)) {
        send_error({f.id, "duplicate_subscription",
                    "a subscription named \"" + f.id + "\" is already open on this connection"});
        co_return;
    }
    if (subs_.size() >= limits_.max_subscriptions) {
        send_error({f.id, "too_many_subscriptions",
                    "at most " + std::to_string(limits_.max_subscriptions) +
                        " subscriptions per connection"});
        co_return;
    }
    auto catalog = hub_.catalog();
    if (!catalog || !catalog->types.count(f.type)) {
        send_error({f.id, "unknown_type", "no event type \"" + f.type + "\" is registered"});
        co_return;
    }
    auto policy = hub_.policy(f.type);
    auto ack_timeout =
        f.ack_timeout_ms ? std::chrono::milliseconds(*f.ack_timeout_ms) : policy.ack_timeout;
    if (ack_timeout > policy.ack_timeout) {
        send_error({f.id, "invalid_ack_timeout",
                    "`ack_timeout_ms` may be at most " +
                        std::to_string(policy.ack_timeout.count()) + " for type " + f.type +
                        " (its delivery.ack_timeout)"});
        co_return;
    }
    auto s = std::make_shared<subscription>();
    s->id = f.id;
    s->type = f.type;
    s->group = f.group;
    s->window = f.window;
    s->ack_timeout = ack_timeout;

    bool created = false;
    std::string cursor;
    store::stream_store store(hub_.io());
    if (!f.group.empty()) {
        auto r = co_await store.create_group(f.type, f.group, f.from.after());
        if (!r.ok()) {
            send_error({f.id, "redis_unavailable",
                        "cannot create the consumer group: " +
                            (r.error.ec ? r.error.ec.message() : r.error.text)});
            co_return;
        }
        created = r.value;
    } else if (f.from.where == start_position::kind::newest) {
        auto r = co_await store.last_entry_id(f.type);
        if (!r.ok()) {
            send_error({f.id, "redis_unavailable",
                        "cannot read the stream's end: " +
                            (r.error.ec ? r.error.ec.message() : r.error.text)});
            co_return;
        }
        cursor = std::move(r.value);
    } else {
        cursor = f.from.after();
    }
    if (closing_ || subs_.count(f.id)) co_return;

    subscribed_info info;
    info.id = f.id;
    info.type = f.type;
    info.group = f.group;
    info.from = f.from_text;
    info.window = f.window;
    info.ack_timeout_ms = static_cast<std::uint64_t>(ack_timeout.count());
    info.created = created;
    send_text(subscribed_frame(info));

    s->sink = this;
    entry e{s, nullptr};
    if (!f.group.empty()) {
        e.reader = hub_.join_group(f.type, f.group);
        e.reader->add(s);
    } else {
        auto tail = hub_.join_tail(f.type);
        net::co_spawn(socket_.get_executor(), feed_fanout(s, cursor, tail, hub_.io()),
                      [&h = hub_, type = f.type](std::exception_ptr ex) {
                          sluice::net::report_failure("fan-out feed")(ex);
                          h.leave_tail(type);
                      });
    }
    subs_.emplace(f.id, std::move(e));
    hub_.metrics().subscriptions_changed(+1);
}

void ws_session::drop(entry& e) {
    e.sub->close();
    if (e.reader) hub_.leave_group(e.sub);
    hub_.metrics().subscriptions_changed(-1);
}

}  // namespace sluice::deliver
