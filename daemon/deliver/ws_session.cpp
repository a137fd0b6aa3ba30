#include "deliver/ws_session.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include "catalog/schema_catalog.hpp"
#include "deliver/fanout.hpp"
#include "deliver/redis_entries.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "publish/storage.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
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

ws_session::ws_session(net::ip::tcp::socket& socket, hub& h)
    : socket_(socket)
    , hub_(h)
    , limits_(h.limits())
    , ws_(socket)
    , writer_wake_(socket.get_executor())
    , stuck_timer_(socket.get_executor())
    , writer_done_(socket.get_executor()) {}

ws_session::~ws_session() = default;

void ws_session::send(out_frame f) {
    if (closing_) return;
    queue_.push_back({std::move(f), clock_type::now()});
    writer_wake_.cancel();
}

void ws_session::send_text(std::string text) {
    out_frame f;
    f.head = std::move(text);
    send(std::move(f));
}

void ws_session::send_error(const frame_error& e) {
    send_text(error_frame(e));
}

void ws_session::close_with(websocket::close_code code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(code, reason);
    // Frames not yet written stay with Redis: their entries become due elsewhere.
    for (auto& q : queue_)
        if (q.frame.fanout) --q.frame.fanout->queued;
    queue_.clear();
    writer_wake_.cancel();
}

void ws_session::close_going_away() {
    close_with(websocket::close_code::going_away, "server shutting down");
}

net::awaitable<void> ws_session::run(const http::request& req) {
    auto self = shared_from_this();
    websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = limits_.ping_interval * 2;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "sluice"); }));
    ws_.read_message_max(limits_.max_message_bytes);
    auto [ec] = co_await ws_.async_accept(req, use_tuple);
    if (ec) co_return;

    hub_.add_session(this);
    hub_.metrics().websocket_opened();
    writer_running_ = true;
    net::co_spawn(socket_.get_executor(), write_loop(), [this, self](std::exception_ptr e) {
        sluice::net::report_failure("websocket writer")(e);
        writer_running_ = false;
        writer_done_.cancel();
        closing_ = true;
        beast::error_code ignored;
        socket_.cancel(ignored);  // ends the read loop too
    });
    if (hub_.draining()) close_going_away();
    co_await read_loop();

    closing_ = true;
    for (auto& [id, e] : subs_) drop(e);
    subs_.clear();
    writer_wake_.cancel();
    while (writer_running_) {
        writer_done_.expires_after(std::chrono::seconds(5));
        auto [wec] = co_await writer_done_.async_wait(use_tuple);
        if (!wec && writer_running_) {  // the writer is stuck: cut the socket
            beast::error_code ignored;
            socket_.close(ignored);
        }
    }
    hub_.remove_session(this);
    hub_.metrics().websocket_closed();
}

net::awaitable<void> ws_session::read_loop() {
    for (;;) {
        in_.clear();
        auto [ec, n] = co_await ws_.async_read(in_, use_tuple);
        if (ec) {
            if (ec == websocket::error::message_too_big)
                log::info("websocket closed: frame too large",
                          {{"limit_bytes", limits_.max_message_bytes}});
            co_return;
        }
        if (closing_) continue;  // read until the peer answers our close
        if (!ws_.got_text()) {
            send_error({"", "invalid_frame", "frames must be JSON text frames, not binary"});
            continue;
        }
        auto data = in_.cdata();
        co_await handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
}

net::awaitable<void> ws_session::write_loop() {
    auto self = shared_from_this();
    ws_.text(true);
    while (true) {
        if (queue_.empty()) {
            if (closing_) break;
            writer_wake_.expires_at(clock_type::time_point::max());
            co_await writer_wake_.async_wait(use_tuple);
            continue;
        }
        if (clock_type::now() - queue_.front().at > limits_.send_timeout) {
            log::warn("websocket closed: the client does not read its frames",
                      {{"send_timeout_ms", limits_.send_timeout.count()},
                       {"queued_frames", queue_.size()}});
            close_with(websocket::close_code::policy_error,
                       "send queue not drained within " +
                           std::to_string(limits_.send_timeout.count()) + " ms");
            break;
        }
        auto f = std::move(queue_.front().frame);
        queue_.pop_front();
        std::array<net::const_buffer, 3> bufs{net::buffer(f.head), net::const_buffer(),
                                              net::const_buffer()};
        if (f.body) {
            bufs[1] = net::buffer(*f.body);
            bufs[2] = net::buffer("}", 1);
        }
        // A write that cannot finish at all (the peer reads nothing) is cut.
        stuck_timer_.expires_after(limits_.send_timeout * 2);
        stuck_timer_.async_wait([this, self](beast::error_code tec) {
            if (tec) return;
            beast::error_code ignored;
            socket_.close(ignored);
        });
        auto [ec, n] = co_await ws_.async_write(bufs, use_tuple);
        stuck_timer_.cancel();
        if (f.fanout) {
            --f.fanout->queued;
            if (f.fanout->on_credit) f.fanout->on_credit();
        }
        if (ec) co_return;
        if (f.entry_ms) {
            auto now = now_ms();
            hub_.metrics().observe_delivery_latency(
                now > f.entry_ms ? static_cast<double>(now - f.entry_ms) / 1000.0 : 0.0);
        }
    }
    if (ws_.is_open() && close_reason_.code != websocket::close_code::none) {
        stuck_timer_.expires_after(limits_.send_timeout);
        stuck_timer_.async_wait([this, self](beast::error_code tec) {
            if (tec) return;
            beast::error_code ignored;
            socket_.close(ignored);
        });
        co_await ws_.async_close(close_reason_, use_tuple);  // best effort
        stuck_timer_.cancel();
    }
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
    if (f.op == client_frame::kind::ack)
        e.reader->ack(*e.sub, f.entries);
    else if (f.op == client_frame::kind::nack)
        unknown = e.reader->nack(*e.sub, f.entries, f.delay_ms, f.reason);
    else
        unknown = e.reader->extend(*e.sub, f.entries);
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
    auto key = publish::stream_key(f.type);
    auto s = std::make_shared<subscription>();
    s->id = f.id;
    s->type = f.type;
    s->group = f.group;
    s->window = f.window;
    s->ack_timeout = ack_timeout;

    bool created = false;
    std::string cursor;
    if (!f.group.empty()) {
        auto after = f.from.after();
        auto [ec, r] = co_await hub_.io().async_exec(
            redis::command("XGROUP", "CREATE", key, f.group, after, "MKSTREAM"), use_tuple);
        if (ec || (r.is_error() && !std::string_view(r.str).starts_with("BUSYGROUP"))) {
            send_error({f.id, "redis_unavailable",
                        "cannot create the consumer group: " + (ec ? ec.message() : r.str)});
            co_return;
        }
        created = !r.is_error();
    } else if (f.from.where == start_position::kind::newest) {
        auto [ec, r] = co_await hub_.io().async_exec(
            redis::command("XREVRANGE", key, "+", "-", "COUNT", "1"), use_tuple);
        if (ec || r.is_error()) {
            send_error({f.id, "redis_unavailable",
                        "cannot read the stream's end: " + (ec ? ec.message() : r.str)});
            co_return;
        }
        auto newest = entries_of(r);
        cursor = newest.empty() ? "0-0" : newest.front().id;
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
