#include "deliver/fanout.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "deliver/event_json.hpp"
#include "deliver/group_reader.hpp"
#include "deliver/position.hpp"
#include "deliver/protocol.hpp"
#include "log/logger.hpp"
#include "net/supervise.hpp"
#include "redis/error.hpp"
#include "store/stream_store.hpp"

namespace sluice::deliver {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::milliseconds block_time{2000};

redis::client_options tail_options(redis::client_options o, const std::string& type) {
    o.role = "tail " + type;
    o.wait_when_disconnected = std::max(o.wait_when_disconnected, std::chrono::milliseconds(2000));
    return o;
}

}  // namespace

tail_watch::tail_watch(net::any_io_executor ex, reader_context& ctx, std::string type)
    : ex_(ex)
    , type_(std::move(type))
    , blocking_(ex, tail_options(ctx.blocking, type_), nullptr)
    , restarted_(ctx.restarted) {}

void tail_watch::start() {
    blocking_.start();
    sluice::net::supervision how;
    how.task = "tail_watch";
    how.detail = type_;
    how.stopped = [weak = weak_from_this()] {
        auto s = weak.lock();
        return !s || s->stopped_;
    };
    how.on_restart = [this] {
        if (restarted_) restarted_("tail_watch");
    };
    sluice::net::supervise(
        ex_, [self = shared_from_this()] { return self->run(); }, std::move(how));
}

void tail_watch::stop() {
    stopped_ = true;
    blocking_.stop();
    notify();
}

void tail_watch::notify() {
    ++generation_;
    auto waiting = std::move(waiters_);
    waiters_.clear();
    for (auto* t : waiting) t->cancel();
}

namespace {

// A fan-out read's reply was over redis.max_reply_bytes (it failed alone): read fewer
// entries at a time from now on, down to one, instead of asking the same again.
void shrink_fanout_reads(unsigned& cap, std::string_view type, std::string_view why) {
    cap = std::max(1u, cap / 2);
    log::warn("fan-out read over redis.max_reply_bytes; reading fewer entries at a time",
              {{"type", type}, {"count", static_cast<std::uint64_t>(cap)}, {"detail", why}});
}

}  // namespace

net::awaitable<void> tail_watch::run() {
    auto self = shared_from_this();
    net::steady_timer pause(ex_);
    store::stream_store store(blocking_);
    // Where the watch is, kept across a restart: nothing added meanwhile goes unseen.
    std::string& last = last_;
    while (!stopped_) {
        sluice::net::fail_point("tail_watch");
        if (last.empty()) {
            auto r = co_await store.last_entry_id(type_);
            if (stopped_) break;
            if (!r.ok()) {
                pause.expires_after(std::chrono::milliseconds(250));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            last = std::move(r.value);
            ready_ = true;
            notify();  // subscriptions waiting for the watch to be ready read now
        }
        auto r = co_await store.read_after(type_, last, read_cap_, block_time);
        if (stopped_) break;
        if (!r.ok()) {
            if (r.error.ec == redis::error::reply_too_large)
                shrink_fanout_reads(read_cap_, type_, r.error.text);
            pause.expires_after(std::chrono::milliseconds(250));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        auto& entries = r.value;
        if (entries.empty()) continue;
        batch_after_ = last;
        batch_.clear();
        for (auto& e : entries) {
            auto event = std::make_shared<std::string>();
            append_event_json(*event, e);
            auto id = parse_entry_id(e.id);
            batch_.push_back({std::move(e.id), std::move(event), id ? id->ms : 0});
        }
        last = batch_.back().id;
        notify();
    }
}

namespace {

// Queues one event frame for fan-out subscription `s`.
void send_event(const std::shared_ptr<subscription>& s, std::string_view id,
                std::shared_ptr<const std::string> body, std::uint64_t entry_ms) {
    out_frame f;
    f.head.reserve(96);
    append_event_frame_head(f.head, s->id, id, 1);
    f.body = std::move(body);
    f.entry_ms = entry_ms;
    f.fanout = s;
    ++s->queued;
    s->sink->send(std::move(f));
}

// Sleeps until `wait` is cancelled: by a written frame (the subscription's on_credit)
// or, when `on_tail`, by the watch (ready, or new entries).
net::awaitable<void> sleep_until_woken(net::steady_timer& wait, tail_watch& tail, bool on_tail) {
    wait.expires_at(clock_type::time_point::max());
    if (on_tail) tail.add_waiter(&wait);
    co_await wait.async_wait(use_tuple);
    tail.remove_waiter(&wait);
}

}  // namespace

net::awaitable<void> feed_fanout(std::shared_ptr<subscription> s, std::string cursor,
                                 std::shared_ptr<tail_watch> tail, redis::client& io) {
    store::stream_store store(io);
    net::steady_timer wait(co_await net::this_coro::executor);
    s->on_credit = [&wait] { wait.cancel(); };
    // However the feed ends (a throw included), credit must not reach `wait` after it.
    struct forget_credit {
        subscription& s;
        ~forget_credit() { s.on_credit = nullptr; }
    } forget{*s};
    net::steady_timer pause(wait.get_executor());
    unsigned read_cap = 1000;  // entries per read; halved by a reply over the cap
    while (s->open()) {
        sluice::net::fail_point("fanout_feed");
        auto credit = s->credit();
        if (credit == 0 || !tail->ready()) {
            co_await sleep_until_woken(wait, *tail, !tail->ready());
            continue;
        }
        // Caught up with the watch's last read: take its entries, no read of our own.
        if (cursor == tail->batch_after() && tail->batch().size() <= credit &&
            !tail->batch().empty()) {
            for (const auto& e : tail->batch()) send_event(s, e.id, e.event, e.entry_ms);
            cursor = tail->batch().back().id;
        }
        // At the watch's position: nothing new until it reads more.
        if (!tail->batch().empty() && cursor == tail->batch().back().id) {
            co_await sleep_until_woken(wait, *tail, true);
            continue;
        }
        auto seen = tail->generation();
        auto count = static_cast<unsigned>(std::min<std::size_t>(credit, read_cap));
        auto r = co_await store.read_after(s->type, cursor, count, std::nullopt);
        if (!s->open()) break;
        if (!r.ok()) {
            if (r.error.ec == redis::error::reply_too_large)
                shrink_fanout_reads(read_cap, s->type, r.error.text);
            pause.expires_after(std::chrono::milliseconds(250));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        auto& entries = r.value;
        for (auto& e : entries) {
            auto body = std::make_shared<std::string>();
            append_event_json(*body, e);
            auto id = parse_entry_id(e.id);
            send_event(s, e.id, std::move(body), id ? id->ms : 0);
            cursor = std::move(e.id);
        }
        if (!entries.empty() || tail->generation() != seen) continue;
        // Caught up: wait for the stream to grow.
        co_await sleep_until_woken(wait, *tail, true);
    }
}

}  // namespace sluice::deliver
