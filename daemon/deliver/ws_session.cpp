#include "deliver/ws_session.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <chrono>
#include <vector>

#include "auth/permissions.hpp"
#include "catalog/schema_catalog.hpp"
#include "deliver/fanout.hpp"
#include "metrics/registry.hpp"
#include "net/supervise.hpp"
#include "store/stream_store.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;

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

ws_transport_limits transport_limits(const websocket_limits& l) {
    ws_transport_limits t;
    t.max_message_bytes = l.max_message_bytes;
    t.max_queued_bytes = l.max_queued_bytes;
    t.send_timeout = l.send_timeout;
    t.ping_interval = l.ping_interval;
    return t;
}

}  // namespace

ws_session::ws_session(sluice::net::stream stream, hub& h, http::connection_lease lease,
                       ws_access access)
    : hub_(h)
    , access_(std::move(access))
    , auth_timer_(stream.get_executor())
    , max_subscriptions_(h.limits().max_subscriptions)
    , transport_(std::move(stream), std::move(lease), *this, h.metrics(),
                 transport_limits(h.limits())) {}

ws_session::~ws_session() = default;

void ws_session::start(const http::request& req, std::string leftover) {
    transport_.start(req, std::move(leftover), shared_from_this(), std::move(access_.refusal));
}

void ws_session::on_open() {
    hub_.add_session(this);
    if (hub_.draining()) transport_.close_going_away();
    if (access_.identify) arm_auth_deadline();
}

void ws_session::arm_auth_deadline() {
    auto who = access_.opened.who;
    std::chrono::steady_clock::time_point at;
    if (!who) {
        at = std::chrono::steady_clock::now() + access_.auth_timeout;
    } else if (who->expires_at > 0) {
        auto left = std::chrono::seconds(who->expires_at) -
                    std::chrono::system_clock::now().time_since_epoch();
        at = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
    } else {
        auth_timer_.cancel();
        return;
    }
    auth_timer_.expires_at(at);
    auth_timer_.async_wait([weak = weak_from_this(),
                            armed_for = who](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->access_.opened.who != armed_for) return;
        self->transport_.close(4401, armed_for ? "credentials expired" : "authentication required");
    });
}

void ws_session::authenticate(const client_frame& f) {
    if (!access_.identify) {
        send_error({"", "auth_not_configured", "this broker does not check credentials"});
        return;
    }
    auto id = access_.identify(f.token);
    if (!id.who) {
        send_error({"", "unauthorized", id.why});
        return;
    }
    access_.opened = std::move(id);
    const auto& who = *access_.opened.who;
    // Subscriptions the new principal may not hold end here.
    for (auto it = subs_.begin(); it != subs_.end();) {
        const auto& sub = *it->second.sub;
        bool group = it->second.reader != nullptr;
        if (who.may(group ? auth::action::consume : auth::action::subscribe, sub.type, sub.group)) {
            ++it;
            continue;
        }
        drop(it->second);
        transport_.send_text(unsubscribed_frame(it->first, "forbidden"));
        it = subs_.erase(it);
    }
    transport_.send_text(authenticated_frame(who.name, who.expires_at));
    arm_auth_deadline();
}

bool ws_session::allowed(const client_frame& f) {
    const auto* who = access_.opened.who;
    bool subscribe = f.op == client_frame::kind::subscribe;
    if (access_.identify) {
        if (!who) {
            send_error({subscribe ? f.id : f.sub, "unauthorized",
                        "send {\"op\":\"auth\",\"token\":\"<credential>\"} first"});
            return false;
        }
        bool group = !f.group.empty();
        auto act = group ? auth::action::consume : auth::action::subscribe;
        // Other ops act only on the connection's own subscriptions.
        if (subscribe && !who->may(act, f.type, f.group)) {
            send_error({f.id, "forbidden",
                        "'" + who->name + "' may not " + std::string(auth::name_of(act)) +
                            (group ? " in this group of this type" : " to this type")});
            return false;
        }
    }
    if (subscribe && access_.limit_subscribe) {
        if (auto wait = access_.limit_subscribe(who)) {
            hub_.metrics().count_rate_limited("subscribe");
            // A client that keeps going after being told is closed.
            if (++rate_limited_in_a_row_ >= 10) {
                transport_.close(1008, "over the subscribe rate limit");
                return false;
            }
            send_error({f.id, "rate_limited",
                        "over the subscribe rate limit (rate_limits); retry after " +
                            std::to_string(*wait) + " s"});
            return false;
        }
        rate_limited_in_a_row_ = 0;
    }
    return true;
}

void ws_session::on_binary() {
    send_error({"", "invalid_frame", "frames must be JSON text frames, not binary"});
}

void ws_session::on_written(std::span<const frame_receipt> frames, bool written) {
    for (const auto& f : frames) {
        if (const auto& s = f.fanout) {
            --s->queued;
            if (s->on_credit) s->on_credit();
        }
    }
    if (!written) return;
    std::uint64_t now = 0;
    for (const auto& f : frames) {
        if (!f.entry_ms) continue;
        if (!now) now = now_ms();
        hub_.metrics().observe_delivery_latency(
            now > f.entry_ms ? static_cast<double>(now - f.entry_ms) / 1000.0 : 0.0);
    }
}

void ws_session::on_unsent(std::span<out_frame> frames) {
    // Their entries stay with Redis and become due elsewhere; the fan-out window opens.
    for (auto& f : frames)
        if (auto& s = f.fanout) --s->queued;
}

void ws_session::on_read_end() {
    for (auto& [id, e] : subs_) drop(e);
    subs_.clear();
}

void ws_session::on_closed() {
    auth_timer_.cancel();
    hub_.remove_session(this);
}

void ws_session::send_error(const frame_error& e) {
    transport_.send_text(error_frame(e));
}

net::awaitable<void> ws_session::on_text(std::string_view text) {
    sluice::net::fail_point("websocket_message");
    auto parsed = parse_client_frame(text);
    if (!parsed.frame) {
        send_error(parsed.error);
        co_return;
    }
    const auto& f = *parsed.frame;
    if (f.op == client_frame::kind::auth) {
        authenticate(f);
        co_return;
    }
    if (!allowed(f)) co_return;
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
        transport_.send_text(unsubscribed_frame(f.sub, "requested"));
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
    if (subs_.size() >= max_subscriptions_) {
        hub_.metrics().count_limit(metrics::limit::websocket_max_subscriptions);
        send_error(
            {f.id, "too_many_subscriptions",
             "at most " + std::to_string(max_subscriptions_) + " subscriptions per connection"});
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
    if (transport_.closing() || subs_.count(f.id)) co_return;

    subscribed_info info;
    info.id = f.id;
    info.type = f.type;
    info.group = f.group;
    info.from = f.from_text;
    info.window = f.window;
    info.ack_timeout_ms = static_cast<std::uint64_t>(ack_timeout.count());
    info.created = created;
    transport_.send_text(subscribed_frame(info));

    s->sink = this;
    entry e{s, nullptr};
    if (!f.group.empty()) {
        e.reader = hub_.join_group(f.type, f.group);
        e.reader->add(s);
    } else {
        auto tail = hub_.join_tail(f.type);
        net::co_spawn(transport_.executor(), feed_fanout(s, cursor, tail, hub_.io()),
                      [&h = hub_, type = f.type, self = weak_from_this()](std::exception_ptr ex) {
                          h.leave_tail(type);
                          // A feed that failed would leave its subscriber waiting in
                          // silence: the connection is cut so the client reconnects.
                          if (auto session = self.lock())
                              session->transport_.task_failed("fanout_feed", ex);
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
