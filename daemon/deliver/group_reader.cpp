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
#include "net/report_failure.hpp"
#include "redis/error.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::milliseconds block_time{2000};
constexpr std::chrono::milliseconds sweep_every{200};
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

// Acked, nacked and extended entries leave stale deadlines behind. Once those
// outnumber the held entries, the list is rebuilt from what is held, so its size
// follows the window rather than the ack or extend rate.
void compact_deadlines(subscription& s) {
    if (s.deadlines.size() - s.deadlines_head <= 2 * s.inflight.size() + 64) return;
    std::vector<std::pair<clock_type::time_point, std::string>> held;
    held.reserve(s.inflight.size());
    for (const auto& [id, h] : s.inflight) held.emplace_back(h.deadline, id);
    std::sort(held.begin(), held.end());
    s.deadlines = std::move(held);
    s.deadlines_head = 0;
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

void group_reader::start() {
    blocking_.start();
    net::co_spawn(ex_, read_loop(), sluice::net::report_failure("group reader " + group_));
    net::co_spawn(ex_, sweep_loop(), sluice::net::report_failure("group sweeper " + group_));
}

void group_reader::stop() {
    stopped_ = true;
    wake_.cancel();
    sweep_timer_.cancel();
    blocking_.stop();
}

void group_reader::add(const std::shared_ptr<subscription>& s) {
    members_.push_back(s);
    dispatch();
    wake_.cancel();
}

void group_reader::remove(const std::shared_ptr<subscription>& s) {
    auto policy = ctx_.policy(type_);
    // Due at once, whatever their delivery count: the member is gone.
    auto idle = static_cast<std::uint64_t>((policy.ack_timeout + policy.retry_backoff_max).count());
    std::vector<std::pair<std::string, std::uint64_t>> release;
    for (auto& [id, h] : s->inflight) release.emplace_back(id, idle);
    s->inflight.clear();
    s->deadlines.clear();
    s->deadlines_head = 0;
    std::erase(members_, s);
    set_idle(release);
    give_back_if_alone();
}

void group_reader::give_back_if_alone() {
    if (!members_.empty() || ready_.empty()) return;
    // Read for members that are all gone: due at once for whoever comes next.
    auto policy = ctx_.policy(type_);
    auto idle = static_cast<std::uint64_t>((policy.ack_timeout + policy.retry_backoff_max).count());
    std::vector<std::pair<std::string, std::uint64_t>> release;
    for (auto& r : ready_) release.emplace_back(std::move(r.id), idle);
    ready_.clear();
    set_idle(release);
}

unsigned group_reader::want() const {
    std::size_t free = 0;
    for (const auto& m : members_) free += m->credit();
    return free > ready_.size() ? static_cast<unsigned>(free - ready_.size()) : 0;
}

void group_reader::push(store::stream_entry&& e, std::uint64_t delivery) {
    auto event = std::make_shared<std::string>();
    event->reserve(256);
    append_event_json(*event, e);
    ready_.push_back({std::move(e.id), std::move(event), delivery, 0});
    ready_.back().entry_ms = entry_ms(ready_.back().id);
}

void group_reader::dispatch() {
    auto now = clock_type::now();
    while (!ready_.empty() && !members_.empty()) {
        // The next member with room, round robin.
        subscription* to = nullptr;
        for (std::size_t i = 0; i < members_.size() && !to; ++i) {
            auto& m = members_[(next_member_ + i) % members_.size()];
            if (m->credit() > 0) {
                to = m.get();
                next_member_ = (next_member_ + i + 1) % members_.size();
            }
        }
        if (!to) return;
        auto r = std::move(ready_.front());
        ready_.pop_front();
        out_frame f;
        f.head.reserve(96);
        append_event_frame_head(f.head, to->id, r.id, r.delivery);
        f.body = std::move(r.event);
        f.entry_ms = r.entry_ms;
        auto deadline = now + to->ack_timeout;
        to->deadlines.emplace_back(deadline, r.id);
        to->inflight[std::move(r.id)] = {r.delivery, deadline};
        compact_deadlines(*to);
        bump(r.delivery > 1 ? counters_.redelivered : counters_.delivered);
        to->sink->send(std::move(f));
    }
}

net::awaitable<void> group_reader::ensure_group() {
    // The stream or group was deleted under us: start again from new entries.
    auto r = co_await store_.create_group(type_, group_, "$");
    if (r.ok() && r.value)
        log::warn("consumer group was missing; created it at the stream's end",
                  {{"type", type_}, {"group", group_}});
}

net::awaitable<void> group_reader::read_loop() {
    auto self = shared_from_this();
    net::steady_timer pause(ex_);
    while (!stopped_) {
        unsigned n = std::min(want(), read_cap_);
        if (n == 0) {
            wake_.expires_at(clock_type::time_point::max());
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        auto r = co_await blocking_store_.read_group(type_, group_, ctx_.consumer, n, block_time);
        if (stopped_) {
            // Read just as the last member left: hand the entries back at once.
            for (auto& e : r.value) push(std::move(e), 1);
            give_back_if_alone();
            break;
        }
        if (!r.ok()) {
            if (r.error.text.starts_with("NOGROUP")) co_await ensure_group();
            if (r.error.ec == redis::error::reply_too_large) shrink_reads(n, r.error.text);
            pause.expires_after(std::chrono::milliseconds(250));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        for (auto& e : r.value) push(std::move(e), 1);
        dispatch();
        give_back_if_alone();
    }
}

std::uint64_t group_reader::backoff_ms(const registry::type_policy::delivery_policy& p,
                                       std::uint64_t delivery) const {
    auto base = static_cast<std::uint64_t>(p.retry_backoff.count());
    auto cap = static_cast<std::uint64_t>(p.retry_backoff_max.count());
    std::uint64_t wait = base;
    for (std::uint64_t i = 1; i < delivery && wait < cap; ++i) wait *= 2;
    return std::min(wait, cap);
}

void group_reader::expire_deadlines() {
    auto now = clock_type::now();
    auto policy = ctx_.policy(type_);
    auto timeout = static_cast<std::uint64_t>(policy.ack_timeout.count());
    std::vector<std::pair<std::string, std::uint64_t>> expired;
    for (auto& m : members_) {
        auto& list = m->deadlines;
        while (m->deadlines_head < list.size() && list[m->deadlines_head].first <= now) {
            auto [deadline, id] = std::move(list[m->deadlines_head++]);
            if (m->deadlines_head == list.size()) {
                list.clear();
                m->deadlines_head = 0;
            } else if (m->deadlines_head > 64 && m->deadlines_head > list.size() / 2) {
                list.erase(list.begin(), list.begin() + static_cast<long>(m->deadlines_head));
                m->deadlines_head = 0;
            }
            auto it = m->inflight.find(id);
            if (it == m->inflight.end() || it->second.deadline != deadline) continue;
            m->inflight.erase(it);
            // Idle as if the type's whole ack timeout had passed: due after the backoff.
            expired.emplace_back(std::move(id), timeout);
        }
    }
    if (!expired.empty()) {
        set_idle(expired);
        dispatch();
        wake_.cancel();
    }
}

net::awaitable<void> group_reader::sweep_loop() {
    auto self = shared_from_this();
    while (!stopped_) {
        sweep_timer_.expires_after(sweep_every);
        co_await sweep_timer_.async_wait(use_tuple);
        if (stopped_) break;
        expire_deadlines();
        unsigned n = std::min(want(), read_cap_);
        if (n == 0) continue;
        auto p = ctx_.policy(type_);
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
        if (stopped_) {
            for (auto& c : r.value.claimed) push(std::move(c.entry), c.delivery);
            give_back_if_alone();
            break;
        }
        if (!r.ok()) {
            if (r.error.text.find("NOGROUP") != std::string::npos) co_await ensure_group();
            if (r.error.ec == redis::error::reply_too_large) shrink_reads(n, r.error.text);
            continue;
        }
        auto& result = r.value;
        claim_from_ = std::move(result.next);
        bump(counters_.dead_lettered, static_cast<double>(result.dead.size()));
        for (const auto& id : result.dead)
            log::info("event dead-lettered",
                      {{"type", type_}, {"group", group_}, {"entry", std::string_view(id)}});
        for (auto& c : result.claimed) push(std::move(c.entry), c.delivery);
        dispatch();
        give_back_if_alone();  // nobody left while the script ran
    }
}

void group_reader::set_idle(const std::vector<std::pair<std::string, std::uint64_t>>& ids_idle) {
    store_.set_idle(type_, group_, ctx_.consumer, ids_idle);
}

void group_reader::ack(subscription& s, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        auto it = s.inflight.find(id);
        // Only a redelivered entry may carry a nack reason; one no longer held here
        // (past its deadline) may be a redelivery, so its reason goes too.
        if (it == s.inflight.end() || it->second.delivery > 1)
            ack_reasons_.push_back(group_ + '\n' + id);
        if (it != s.inflight.end()) s.inflight.erase(it);
        acks_.push_back(id);  // acked even when no longer held here: it was processed
    }
    bump(counters_.acked, static_cast<double>(ids.size()));
    if (!flush_posted_) {
        flush_posted_ = true;
        net::post(ex_, [self = shared_from_this()] { self->flush_acks(); });
    }
    dispatch();
    wake_.cancel();
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
    auto p = ctx_.policy(type_);
    auto timeout = static_cast<std::uint64_t>(p.ack_timeout.count());
    std::vector<std::string> unknown;
    std::vector<std::pair<std::string, std::uint64_t>> release;
    std::vector<std::string> reason_fields;  // group + newline + id, one per nacked entry
    for (const auto& id : ids) {
        auto it = s.inflight.find(id);
        if (it == s.inflight.end()) {
            unknown.push_back(id);
            continue;
        }
        auto wait = backoff_ms(p, it->second.delivery);
        // Due once idle reaches timeout + wait: start it that far minus the delay.
        auto delay = std::min(delay_ms.value_or(wait), timeout + wait);
        release.emplace_back(id, timeout + wait - delay);
        if (!reason.empty()) reason_fields.push_back(group_ + '\n' + id);
        s.inflight.erase(it);
    }
    bump(counters_.nacked, static_cast<double>(release.size()));
    store_.save_nack_reasons(type_, reason_fields, reason);
    set_idle(release);
    dispatch();
    wake_.cancel();
    return unknown;
}

std::vector<std::string> group_reader::extend(subscription& s,
                                              const std::vector<std::string>& ids) {
    std::vector<std::string> unknown;
    std::vector<std::pair<std::string, std::uint64_t>> touch;
    auto deadline = clock_type::now() + s.ack_timeout;
    for (const auto& id : ids) {
        auto it = s.inflight.find(id);
        if (it == s.inflight.end()) {
            unknown.push_back(id);
            continue;
        }
        it->second.deadline = deadline;
        s.deadlines.emplace_back(deadline, id);
        touch.emplace_back(id, 0);
    }
    compact_deadlines(s);
    set_idle(touch);
    return unknown;
}

}  // namespace sluice::deliver
