#include "deliver/group_reader.hpp"

#include <prometheus/counter.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "deliver/event_json.hpp"
#include "deliver/position.hpp"
#include "deliver/protocol.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/supervise.hpp"
#include "redis/error.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::milliseconds block_time{2000};
constexpr unsigned max_read = 1000;

void bump(prometheus::Counter* c, double n = 1) {
    if (c && n > 0) c->Increment(n);
}

std::uint64_t entry_ms(const std::string& id) {
    auto parsed = parse_entry_id(id);
    return parsed ? parsed->ms : 0;
}

redis::client_options blocking_options(redis::client_options o, const std::string& type,
                                       const std::string& group) {
    o.role = "deliver " + type + "/" + group;
    // The first read waits for the connection instead of failing while it opens.
    o.wait_when_disconnected = std::max(o.wait_when_disconnected, std::chrono::milliseconds(2000));
    return o;
}

}  // namespace

group_reader::group_reader(net::any_io_executor ex, reader_context& ctx, std::string type,
                           std::string group)
    : ex_(ex)
    , ctx_(ctx)
    , type_(std::move(type))
    , group_(std::move(group))
    , blocking_(ex, blocking_options(ctx.blocking, type_, group_), nullptr)
    , store_(ctx.io)
    , blocking_store_(blocking_)
    , wake_(ex)
    , sweep_timer_(ex)
    , dispatcher_(group_)
    , counters_(ctx.counters(type_, group_))
    , read_cap_(max_read) {}

// A read or claim of `asked` entries got a reply over the cap: ask for half as many
// from now on (at least one).
void group_reader::shrink_reads(unsigned asked, std::string_view why) {
    read_cap_ = std::max(1u, std::min(read_cap_, asked) / 2);
    log::warn("group read over redis.max_reply_bytes; reading fewer entries at a time",
              {{"type", type_},
               {"group", group_},
               {"count", static_cast<std::uint64_t>(read_cap_)},
               {"detail", why}});
}

group_dispatcher::policy group_reader::policy() const {
    auto p = ctx_.policy(type_);
    // What the claim script waits for entries this broker holds: the timeout saved for
    // them (save_ack_timeout), so idle times set here (nack, a passed deadline) come
    // due when they should.
    auto timeout = p.ack_timeout;
    if (saved_ack_timeout_) timeout = std::min(timeout, *saved_ack_timeout_);
    return {timeout, p.retry_backoff, p.retry_backoff_max};
}

void group_reader::start() {
    blocking_.start();
    auto self = shared_from_this();
    auto supervised = [&](std::string task, auto loop) {
        sluice::net::supervision how;
        how.task = std::move(task);
        how.detail = type_ + "/" + group_;
        how.stopped = [weak = weak_from_this()] {
            auto s = weak.lock();
            return !s || s->stopped_;
        };
        how.on_restart = [this, name = how.task] {
            if (ctx_.restarted) ctx_.restarted(name);
        };
        sluice::net::supervise(
            ex_, [self, loop] { return ((*self).*loop)(); }, std::move(how));
    };
    supervised("group_reader", &group_reader::read_loop);
    supervised("group_sweeper", &group_reader::sweep_loop);
}

void group_reader::stop() {
    stopped_ = true;
    wake_.cancel();
    sweep_timer_.cancel();
    blocking_.stop();
}

void group_reader::add(const std::shared_ptr<subscription>& s) {
    s->member = dispatcher_.join(s->window, s->ack_timeout);
    members_[s->member] = s;
    save_ack_timeout();
    dispatcher_.dispatch(clock_type::now());
    apply();
}

void group_reader::remove(const std::shared_ptr<subscription>& s) {
    dispatcher_.leave(s->member, policy());
    members_.erase(s->member);
    save_ack_timeout();
    apply();
}

void group_reader::save_ack_timeout() {
    // With no member left the last value stays: what the members handed back was given
    // idle times against it.
    if (members_.empty()) return;
    std::optional<std::chrono::milliseconds> longest;
    for (const auto& [id, s] : members_)
        if (!longest || s->ack_timeout > *longest) longest = s->ack_timeout;
    if (longest == saved_ack_timeout_) return;
    saved_ack_timeout_ = longest;
    store_.save_ack_timeout(type_, group_, ctx_.consumer, longest);
}

void group_reader::take(std::vector<store::stream_entry>& entries, std::uint64_t delivery) {
    auto p = policy();
    if (!entries.empty())
        if (auto id = parse_entry_id(entries.back().id); id && (!last_seen_ || *id > *last_seen_))
            last_seen_ = id;
    for (auto& e : entries) {
        auto event = std::make_shared<std::string>();
        append_event_json(*event, e);
        auto ms = entry_ms(e.id);
        dispatcher_.take(std::move(e.id), std::move(event), ms, delivery, p);
    }
}

void group_reader::take(std::vector<store::claimed_entry>& entries) {
    auto p = policy();
    for (auto& c : entries) {
        auto event = std::make_shared<std::string>();
        append_event_json(*event, c.entry);
        auto ms = entry_ms(c.entry.id);
        dispatcher_.take(std::move(c.entry.id), std::move(event), ms, c.delivery, p);
    }
}

void group_reader::apply() {
    auto out = dispatcher_.take_output();
    for (auto& f : out.frames) {
        auto it = members_.find(f.to);
        if (it == members_.end() || !it->second->open()) continue;  // comes back by its deadline
        out_frame frame;
        frame.head.reserve(96);
        append_event_frame_head(frame.head, it->second->id, f.entry, f.delivery);
        frame.body = std::move(f.event);
        frame.entry_ms = f.entry_ms;
        it->second->sink->send(std::move(frame));
    }
    store_.set_idle(type_, group_, ctx_.consumer, out.idle);
    for (const auto& [fields, reason] : out.reasons)
        store_.save_nack_reasons(type_, fields, reason);
    if (!out.acks.empty()) {
        acks_.insert(acks_.end(), std::make_move_iterator(out.acks.begin()),
                     std::make_move_iterator(out.acks.end()));
        ack_reasons_.insert(ack_reasons_.end(), std::make_move_iterator(out.ack_reasons.begin()),
                            std::make_move_iterator(out.ack_reasons.end()));
        if (!flush_posted_) {
            flush_posted_ = true;
            net::post(ex_, [self = shared_from_this()] { self->flush_acks(); });
        }
    }
    bump(counters_.delivered, static_cast<double>(out.delivered));
    bump(counters_.redelivered, static_cast<double>(out.redelivered));
    bump(counters_.acked, static_cast<double>(out.acked));
    bump(counters_.nacked, static_cast<double>(out.nacked));
    // Credit may have changed: the read loop looks again.
    wake_.cancel();
}

net::awaitable<void> group_reader::ensure_group() {
    // The stream or group is gone (deleted, or Redis came back without it): create the
    // group again where no entry published since it last read is skipped.
    auto first =
        co_await store_.range(store::stream_store::stream_kind::events, type_, "-", "+", 1);
    if (!first.ok()) co_return;  // Redis is away: the next read tries again
    std::optional<entry_id> oldest;
    if (!first.value.empty()) oldest = parse_entry_id(first.value.front().id);
    auto at = recreate_group_at(oldest, last_seen_);
    auto r = co_await store_.create_group(type_, group_, at);
    if (r.ok() && r.value)
        log::warn("consumer group was missing; created it again",
                  {{"type", type_},
                   {"group", group_},
                   {"after", at},
                   {"why", at == "0" ? "the stream is new: every entry in it is delivered"
                                     : "only the group was gone: it goes on after the last "
                                       "entry it read"}});
}

net::awaitable<void> group_reader::read_loop() {
    auto self = shared_from_this();
    net::steady_timer pause(ex_);
    if (!last_seen_) {
        // The stream's end as the reader starts: what "known" means before it reads.
        auto end = co_await store_.last_entry_id(type_);
        if (end.ok()) last_seen_ = parse_entry_id(end.value);
    }
    while (!stopped_) {
        sluice::net::fail_point("group_reader");
        unsigned n = std::min(dispatcher_.want_batch(), read_cap_);
        if (n == 0) {
            wake_.expires_at(clock_type::time_point::max());
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        auto r = co_await blocking_store_.read_group(type_, group_, ctx_.consumer, n, block_time);
        if (!r.ok() && !stopped_) {
            if (r.error.text.starts_with("NOGROUP")) co_await ensure_group();
            if (r.error.ec == redis::error::reply_too_large) shrink_reads(n, r.error.text);
            pause.expires_after(std::chrono::milliseconds(250));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        // Read just as the last member left (stopped): the dispatcher hands them back.
        take(r.value, 1);
        dispatcher_.dispatch(clock_type::now());
        apply();
    }
}

net::awaitable<void> group_reader::sweep_loop() {
    auto self = shared_from_this();
    while (!stopped_) {
        sweep_timer_.expires_after(ctx_.sweep_every);
        co_await sweep_timer_.async_wait(use_tuple);
        if (stopped_) break;
        sluice::net::fail_point("group_sweeper");
        auto p = ctx_.policy(type_);
        dispatcher_.tick(clock_type::now(), policy());
        apply();
        unsigned n = std::min(dispatcher_.want(), read_cap_);
        if (n == 0) continue;
        std::string now;
        log::append_timestamp(now);
        store::stream_store::claim_request ask{group_,
                                               ctx_.consumer,
                                               p.ack_timeout,
                                               p.retry_backoff,
                                               p.retry_backoff_max,
                                               p.max_deliveries_for(group_),
                                               n,
                                               now,
                                               claim_from_};
        auto r = co_await store_.claim(type_, ask);
        if (!r.ok() && !stopped_) {
            if (r.error.text.find("NOGROUP") != std::string::npos) co_await ensure_group();
            if (r.error.ec == redis::error::reply_too_large) shrink_reads(n, r.error.text);
            continue;
        }
        auto& result = r.value;
        if (!stopped_) {
            claim_from_ = std::move(result.next);
            bump(counters_.dead_lettered, static_cast<double>(result.dead.size()));
            for (const auto& id : result.dead)
                log::info("event dead-lettered",
                          {{"type", type_}, {"group", group_}, {"entry", std::string_view(id)}});
        }
        // Claimed just as the last member left (stopped): the dispatcher hands them back.
        take(result.claimed);
        dispatcher_.dispatch(clock_type::now());
        apply();
    }
}

void group_reader::ack(subscription& s, const std::vector<std::string>& ids) {
    dispatcher_.ack(s.member, ids);
    dispatcher_.dispatch(clock_type::now());
    apply();
}

void group_reader::flush_acks() {
    flush_posted_ = false;
    store_.ack(type_, group_, acks_, ack_reasons_);
    acks_.clear();
    ack_reasons_.clear();
}

std::vector<std::string> group_reader::nack(subscription& s, const std::vector<std::string>& ids,
                                            std::optional<std::uint64_t> delay_ms,
                                            const std::string& reason) {
    auto unknown = dispatcher_.nack(s.member, ids, delay_ms, reason, policy());
    dispatcher_.dispatch(clock_type::now());
    apply();
    return unknown;
}

std::vector<std::string> group_reader::extend(subscription& s,
                                              const std::vector<std::string>& ids) {
    auto unknown = dispatcher_.extend(s.member, ids, clock_type::now());
    apply();
    return unknown;
}

}  // namespace sluice::deliver
