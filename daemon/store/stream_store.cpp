#include "store/stream_store.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>

#include "log/logger.hpp"
#include "redis/client.hpp"
#include "redis/error.hpp"
#include "redis/script.hpp"
#include "store/keys.hpp"
#include "store/scripts.hpp"

namespace sluice::store {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using reply = redis::reply;
using kind = reply::kind;

// A client's completion as a result: the reply, or why there is none.
result<reply> reply_of(const boost::system::error_code& ec, reply r, std::string_view op) {
    result<reply> out;
    if (ec)
        out.error = failure::no_reply(ec, std::move(r.str), op);
    else
        out.value = std::move(r);
    return out;
}

// A request's reply, or why there is none.
net::awaitable<result<reply>> exec(redis::client& c, redis::request req, std::string_view op,
                                   std::chrono::milliseconds extra = {}) {
    auto [ec, r] = co_await c.async_exec(std::move(req), use_tuple, extra);
    co_return reply_of(ec, std::move(r), op);
}

// The replies of a request of several commands, one per command whatever their count
// (a request of one command is answered by that command's reply alone).
net::awaitable<result<std::vector<reply>>> exec_each(redis::client& c, redis::request req,
                                                     std::string_view op,
                                                     std::chrono::milliseconds extra = {}) {
    auto n = req.commands();
    auto r = co_await exec(c, std::move(req), op, extra);
    result<std::vector<reply>> out;
    if (!r.ok()) {
        out.error = std::move(r.error);
    } else if (n == 1) {
        out.value.push_back(std::move(r.value));
    } else if (r.value.type == kind::array && r.value.elements.size() == n) {
        out.value = std::move(r.value.elements);
    } else {
        out.error = failure::no_reply(make_error_code(redis::error::protocol_error), {}, op);
    }
    co_return out;
}

// A script's reply: EVALSHA, and EVAL once when Redis does not have it.
net::awaitable<result<reply>> run_script(redis::client& c, const redis::script& s,
                                         const std::vector<std::string_view>& keys,
                                         const std::vector<std::string_view>& args,
                                         std::string_view op, bool replicated = false) {
    auto [ec, r] = co_await redis::eval(c, s, keys, args, replicated);
    co_return reply_of(ec, std::move(r), op);
}

// The result of a reply that must not be an error reply: `decode` reads the value.
template <typename T, typename Decode>
result<T> decoded(result<reply>& r, std::string_view op, Decode decode) {
    result<T> out;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value.is_error())
        out.error = failure::refused(r.value, op);
    else
        out.value = decode(r.value);
    return out;
}

bool is_noscript(const reply& r) {
    return r.is_error() && std::string_view(r.str).starts_with("NOSCRIPT");
}

// Pipelined script calls after the first round trip: those Redis answered NOSCRIPT
// are sent again, each by `push_eval(request, k)` with its source, in one request.
template <typename PushEval>
net::awaitable<failure> retry_noscript(redis::client& c, std::span<reply> replies,
                                       std::string_view op, PushEval push_eval,
                                       bool replicated = false) {
    redis::request retry;
    if (replicated) retry.replicate();
    std::vector<std::size_t> retried;
    for (std::size_t k = 0; k < replies.size(); ++k)
        if (is_noscript(replies[k])) {
            push_eval(retry, k);
            retried.push_back(k);
        }
    if (retried.empty()) co_return failure{};
    auto [ec, r] = co_await c.async_exec(std::move(retry), use_tuple);
    // Applied, but short of replicas: the replies are still the writes' own.
    bool not_replicated = ec == redis::error::not_replicated;
    if (not_replicated) ec = {};
    if (!ec && retried.size() > 1 && r.elements.size() != retried.size())
        ec = make_error_code(redis::error::protocol_error);
    if (ec) co_return failure::no_reply(ec, std::move(r.str), op);
    for (std::size_t k = 0; k < retried.size(); ++k)
        replies[retried[k]] = retried.size() == 1 ? std::move(r) : std::move(r.elements[k]);
    if (not_replicated)
        co_return failure::no_reply(make_error_code(redis::error::not_replicated), {}, op);
    co_return failure{};
}

// Sends `req` and forgets it: `what_lost` is logged (at warn) if it went unanswered.
void send_and_forget(redis::client& c, redis::request req, std::string_view type,
                     std::string_view what_lost) {
    c.async_exec(std::move(req), [type = std::string(type), what = std::string(what_lost)](
                                     boost::system::error_code ec, reply) {
        if (ec && !what.empty()) log::warn(what, {{"type", type}, {"error", ec.message()}});
    });
}

// The append of `e`: XADD, or the append script by `verb` (EVALSHA + sha1, or EVAL +
// source) when it has an idempotency key; its encoded fields are copied once, here.
void push_append(redis::request& req, const stream_store::append_item& e, std::string_view verb,
                 std::string_view script, const std::string& window) {
    thread_local std::string stream;
    assign_stream_key(stream, e.type);
    if (e.idempotency.empty()) {
        const std::string_view head[] = {"XADD", stream, "*"};
        req.push(head, std::size(head), e.fields, e.field_count);
    } else {
        const std::string_view head[] = {verb, script, "2", stream, e.idempotency, window};
        req.push(head, std::size(head), e.fields, e.field_count);
    }
}

std::string key_of(stream_store::stream_kind which, std::string_view type) {
    return which == stream_store::stream_kind::events ? stream_key(type) : dead_letter_key(type);
}

}  // namespace

stream_store::task<done> stream_store::append(std::span<append_item> items,
                                              std::chrono::milliseconds window) {
    constexpr std::string_view op = "the write";
    result<done> out;
    if (items.empty()) co_return out;
    const auto& script = append_script();
    const std::string window_ms = std::to_string(window.count());
    redis::request writes;
    std::size_t bytes = 0;
    for (const auto& e : items) bytes += e.fields.size() + 96;
    writes.reserve(bytes);
    for (const auto& e : items) push_append(writes, e, "EVALSHA", script.sha1(), window_ms);
    // A large batch may take Redis a while: allow for it, so the watchdog does not cut
    // a connection whose writes are being applied.
    auto allowance = std::chrono::milliseconds(items.size() / 10);
    // With publish.min_replicas, the connection answers only after a WAIT covering it.
    writes.replicate();
    // The hot path of the broker: the reply is read in place (one command's reply is
    // that reply, several are an array), with no copy and no further coroutine.
    auto [ec, r] = co_await client_.async_exec(std::move(writes), use_tuple, allowance);
    // Stored on the master, not confirmed by enough replicas: read the replies as
    // usual, then every stored item fails with it (a failover could lose it).
    bool not_replicated = ec == redis::error::not_replicated;
    if (not_replicated) ec = {};
    if (!ec && items.size() > 1 && r.elements.size() != items.size())
        ec = make_error_code(redis::error::protocol_error);
    if (ec) {
        out.error = failure::no_reply(ec, std::move(r.str), op);
        co_return out;
    }
    std::span<reply> replies(items.size() == 1 ? &r : r.elements.data(), items.size());
    // After a Redis restart the script is not cached: those go once more as EVAL.
    if (std::any_of(replies.begin(), replies.end(), is_noscript)) {
        auto lost = co_await retry_noscript(
            client_, replies, op,
            [&](redis::request& req, std::size_t k) {
                push_append(req, items[k], "EVAL", script.source(), window_ms);
            },
            true);
        if (lost.ec == redis::error::not_replicated) {
            not_replicated = true;
            lost = {};
        }
        if (lost) {
            out.error = std::move(lost);
            co_return out;
        }
    }
    for (std::size_t k = 0; k < items.size(); ++k) {
        auto& rep = replies[k];
        auto& one = items[k].outcome;
        if (rep.type == kind::string && items[k].idempotency.empty()) {
            one.value.entry = std::move(rep.str);  // XADD's entry id
        } else if (rep.type == kind::array && rep.elements.size() == 2) {
            one.value.duplicate = rep.elements[0].integer == 0;
            one.value.entry = std::move(rep.elements[1].str);
        } else {
            one.error = failure::refused(rep, op);
        }
        if (not_replicated && one.ok())
            one.error = failure::no_reply(make_error_code(redis::error::not_replicated),
                                          "entry " + one.value.entry, "WAIT");
    }
    co_return out;
}

stream_store::task<bool> stream_store::create_group(std::string_view type, std::string_view group,
                                                    std::string_view position) {
    auto key = stream_key(type);
    auto r =
        co_await exec(client_, redis::command("XGROUP", "CREATE", key, group, position, "MKSTREAM"),
                      "XGROUP CREATE");
    result<bool> out;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (!r.value.is_error())
        out.value = true;
    else if (!std::string_view(r.value.str).starts_with("BUSYGROUP"))
        out.error = failure::refused(r.value, "XGROUP CREATE");
    co_return out;
}

stream_store::task<bool> stream_store::place_group(std::string_view type, std::string_view group,
                                                   std::string_view position) {
    auto out = co_await create_group(type, group, position);
    if (!out.ok() || out.value) co_return out;
    auto key = stream_key(type);
    auto r = co_await exec(client_, redis::command("XGROUP", "SETID", key, group, position),
                           "XGROUP SETID");
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value.is_error())
        out.error = failure::refused(r.value, "XGROUP SETID");
    co_return out;
}

stream_store::task<std::vector<stream_entry>> stream_store::read_group(
    std::string_view type, std::string_view group, std::string_view consumer, unsigned count,
    std::chrono::milliseconds block) {
    auto key = stream_key(type);
    auto n = std::to_string(count);
    auto wait = std::to_string(block.count());
    auto r = co_await exec(client_,
                           redis::command("XREADGROUP", "GROUP", group, consumer, "COUNT", n,
                                          "BLOCK", wait, "STREAMS", key, ">"),
                           "XREADGROUP", block);
    co_return decoded<std::vector<stream_entry>>(r, "XREADGROUP",
                                                 [](reply& v) { return entries_of_read(v); });
}

stream_store::task<claim_result> stream_store::claim(std::string_view type,
                                                     const claim_request& c) {
    auto key = stream_key(type);
    auto dlq = dead_letter_key(type);
    auto reasons = nack_reasons_key(type);
    auto timeouts = ack_timeouts_key(type);
    auto timeout = std::to_string(c.ack_timeout.count());
    auto base = std::to_string(c.retry_backoff.count());
    auto cap = std::to_string(c.retry_backoff_max.count());
    auto max_deliveries = std::to_string(c.max_deliveries);
    auto count = std::to_string(c.count);
    auto r = co_await run_script(
        client_, claim_script(), redis::args(key, dlq, reasons, timeouts),
        redis::args(c.group, c.consumer, timeout, base, cap, max_deliveries, count, c.now, c.start),
        "the claim script");
    co_return decoded<claim_result>(r, "the claim script",
                                    [](reply& v) { return claim_result_of(v); });
}

void stream_store::save_ack_timeout(std::string_view type, std::string_view group,
                                    std::string_view consumer,
                                    std::optional<std::chrono::milliseconds> longest) {
    auto key = ack_timeouts_key(type);
    std::string field = std::string(group) + '\n' + std::string(consumer);
    if (longest) {
        auto ms = std::to_string(longest->count());
        send_and_forget(client_, redis::command("HSET", key, field, ms), type,
                        "the subscriptions' ack timeout was not saved");
    } else {
        send_and_forget(client_, redis::command("HDEL", key, field), type, {});
    }
}

void stream_store::ack(std::string_view type, std::string_view group,
                       const std::vector<std::string>& ids,
                       const std::vector<std::string>& reason_fields) {
    if (ids.empty()) return;
    auto key = stream_key(type);
    std::vector<std::string_view> argv;
    argv.reserve(ids.size() + 3);
    argv.insert(argv.end(), {"XACK", key, group});
    argv.insert(argv.end(), ids.begin(), ids.end());
    redis::request req(argv);
    if (!reason_fields.empty()) {
        auto reasons = nack_reasons_key(type);
        argv.assign({"HDEL", reasons});
        argv.insert(argv.end(), reason_fields.begin(), reason_fields.end());
        req.push(argv);
    }
    send_and_forget(client_, std::move(req), type,
                    "acks not written; the events will be delivered again");
}

void stream_store::set_idle(std::string_view type, std::string_view group,
                            std::string_view consumer,
                            const std::vector<std::pair<std::string, std::uint64_t>>& ids_idle) {
    if (ids_idle.empty()) return;
    auto key = stream_key(type);
    // One XCLAIM per distinct idle time, naming every id that gets it (usually all).
    std::map<std::uint64_t, std::vector<std::string_view>> by_idle;
    for (const auto& [id, idle] : ids_idle) by_idle[idle].push_back(id);
    redis::request req;
    std::vector<std::string_view> argv;
    for (const auto& [idle, ids] : by_idle) {
        auto ms = std::to_string(idle);
        argv.assign({"XCLAIM", key, group, consumer, "0"});
        argv.insert(argv.end(), ids.begin(), ids.end());
        argv.insert(argv.end(), {"IDLE", ms, "JUSTID"});
        req.push(argv);
    }
    send_and_forget(client_, std::move(req), type, {});
}

void stream_store::save_nack_reasons(std::string_view type, const std::vector<std::string>& fields,
                                     std::string_view reason) {
    if (fields.empty()) return;
    auto reasons = nack_reasons_key(type);
    // One HSET for all of them: every field gets the same reason.
    std::vector<std::string_view> argv{"HSET", reasons};
    for (const auto& f : fields) argv.insert(argv.end(), {f, reason});
    send_and_forget(client_, redis::request(argv), type, {});
}

namespace {

// A listing script's reply as groups: none for a stream that does not exist.
result<stream_store::group_listing> listing_of(const reply& r) {
    result<stream_store::group_listing> out;
    if (r.is_error() && r.str.find("no such key") != std::string::npos) return out;
    auto groups = r.is_error() ? std::nullopt : groups_from_listing(r, out.value.total);
    if (groups)
        out.value.groups = std::move(*groups);
    else
        out.error = failure::refused(r, "the group listing script");
    return out;
}

}  // namespace

stream_store::task<stream_store::group_listing> stream_store::list_groups(std::string_view type,
                                                                          std::size_t most,
                                                                          std::string_view after) {
    auto key = stream_key(type);
    auto n = std::to_string(most);
    auto r = co_await run_script(client_, list_groups_script(), redis::args(key),
                                 redis::args(n, after), "the group listing script");
    if (!r.ok()) {
        result<group_listing> out;
        out.error = std::move(r.error);
        co_return out;
    }
    co_return listing_of(r.value);
}

stream_store::task<std::vector<result<stream_store::group_listing>>> stream_store::list_groups(
    std::span<const std::string> types, std::size_t most) {
    constexpr std::string_view op = "the group listing script";
    const auto& script = list_groups_script();
    auto n = std::to_string(most);
    std::vector<std::string> keys;
    keys.reserve(types.size());
    redis::request req;
    for (const auto& t : types) {
        keys.push_back(stream_key(t));
        req.push_command("EVALSHA", script.sha1(), "1", keys.back(), n);
    }
    result<std::vector<result<group_listing>>> out;
    auto replies = co_await exec_each(client_, std::move(req), op);
    if (replies.ok() && std::any_of(replies.value.begin(), replies.value.end(), is_noscript))
        replies.error =
            co_await retry_noscript(client_, replies.value, op, [&](redis::request& r, auto k) {
                r.push_command("EVAL", script.source(), "1", keys[k], n);
            });
    if (!replies.ok()) {
        out.error = std::move(replies.error);
        co_return out;
    }
    for (const auto& r : replies.value) out.value.push_back(listing_of(r));
    co_return out;
}

stream_store::task<std::uint64_t> stream_store::describe_groups(std::string_view type,
                                                                std::vector<group_info>& groups,
                                                                bool with_time) {
    constexpr std::string_view op = "XINFO CONSUMERS / XPENDING / TIME";
    auto key = stream_key(type);
    redis::request req;
    for (const auto& g : groups) {
        req.push_command("XINFO", "CONSUMERS", key, g.name);
        req.push_command("XPENDING", key, g.name);
    }
    if (with_time) req.push_command("TIME");
    result<std::uint64_t> out;
    if (req.commands() == 0) co_return out;
    auto replies = co_await exec_each(client_, std::move(req), op);
    if (!replies.ok()) {
        out.error = std::move(replies.error);
        co_return out;
    }
    if (with_time) {
        auto now = ms_from_time(replies.value.back());
        if (!now) {
            out.error = failure::refused(replies.value.back(), "TIME");
            co_return out;
        }
        out.value = *now;
    }
    std::vector<group_info> kept;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& consumers = replies.value[2 * i];
        const auto& pending = replies.value[2 * i + 1];
        // A group deleted between the round trips is left out.
        if (consumers.is_error() && consumers.str.starts_with("NOGROUP")) continue;
        if (!read_consumers(consumers, groups[i]) || !read_pending_summary(pending, groups[i])) {
            out.error = failure::refused(consumers.is_error() ? consumers : pending,
                                         "XINFO CONSUMERS / XPENDING");
            co_return out;
        }
        kept.push_back(std::move(groups[i]));
    }
    groups = std::move(kept);
    co_return out;
}

stream_store::task<std::vector<consumer_info>> stream_store::consumers(std::string_view type,
                                                                       std::string_view group) {
    auto key = stream_key(type);
    auto r =
        co_await exec(client_, redis::command("XINFO", "CONSUMERS", key, group), "XINFO CONSUMERS");
    result<std::vector<consumer_info>> out;
    group_info g;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value.is_error() || !read_consumers(r.value, g))
        out.error = failure::refused(r.value, "XINFO CONSUMERS");
    else
        out.value = std::move(g.consumer_list);
    co_return out;
}

stream_store::task<done> stream_store::delete_consumer(std::string_view type,
                                                       std::string_view group,
                                                       std::string_view consumer) {
    auto key = stream_key(type);
    // With it goes the ack timeout it saved (save_ack_timeout), so that hash stays
    // as small as the group's consumers.
    auto timeouts = ack_timeouts_key(type);
    std::string field = std::string(group) + '\n' + std::string(consumer);
    redis::request req(redis::args("XGROUP", "DELCONSUMER", key, group, consumer));
    req.push(redis::args("HDEL", timeouts, field));
    auto r = co_await exec_each(client_, std::move(req), "XGROUP DELCONSUMER");
    result<done> out;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value[0].is_error())
        out.error = failure::refused(r.value[0], "XGROUP DELCONSUMER");
    co_return out;
}

stream_store::task<std::string> stream_store::last_entry_id(std::string_view type) {
    auto key = stream_key(type);
    auto r = co_await exec(client_, redis::command("XREVRANGE", key, "+", "-", "COUNT", "1"),
                           "XREVRANGE");
    result<std::string> out;
    if (!r.ok()) {
        out.error = std::move(r.error);
    } else if (r.value.is_error()) {
        out.error = failure::refused(r.value, "XREVRANGE");
    } else {
        auto newest = entries_of(r.value);
        out.value = newest.empty() ? "0-0" : std::move(newest.front().id);
    }
    co_return out;
}

stream_store::task<std::vector<stream_entry>> stream_store::read_after(
    std::string_view type, std::string_view after, unsigned count,
    std::optional<std::chrono::milliseconds> block) {
    auto key = stream_key(type);
    auto n = std::to_string(count);
    redis::request req;
    std::chrono::milliseconds extra{0};
    if (block) {
        extra = *block;
        auto wait = std::to_string(block->count());
        req.push_command("XREAD", "COUNT", n, "BLOCK", wait, "STREAMS", key, after);
    } else {
        req.push_command("XREAD", "COUNT", n, "STREAMS", key, after);
    }
    auto r = co_await exec(client_, std::move(req), "XREAD", extra);
    co_return decoded<std::vector<stream_entry>>(r, "XREAD",
                                                 [](reply& v) { return entries_of_read(v); });
}

stream_store::task<std::vector<stream_entry>> stream_store::range(stream_kind which,
                                                                  std::string_view type,
                                                                  std::string_view from,
                                                                  std::string_view to,
                                                                  std::size_t count) {
    auto key = key_of(which, type);
    auto n = std::to_string(count);
    auto r = co_await exec(client_, redis::command("XRANGE", key, from, to, "COUNT", n), "XRANGE");
    result<std::vector<stream_entry>> out;
    if (!r.ok()) {
        out.error = std::move(r.error);
        co_return out;
    }
    auto entries = r.value.is_error() ? std::nullopt : entries_from_xrange(r.value);
    if (entries)
        out.value = std::move(*entries);
    else
        out.error = failure::refused(r.value, "XRANGE");
    co_return out;
}

stream_store::task<requeue_result> stream_store::requeue(std::string_view type, bool all,
                                                         std::string_view start, std::size_t most,
                                                         std::span<const std::string> ids) {
    auto dlq = dead_letter_key(type);
    auto stream = stream_key(type);
    auto cap = std::to_string(most);
    std::vector<std::string_view> argv;
    if (all) {
        argv = redis::args("all", cap, start);
    } else {
        argv = redis::args("ids", cap);
        argv.insert(argv.end(), ids.begin(), ids.end());
    }
    // Requeued events must survive a failover as published ones do (min_replicas).
    auto r = co_await run_script(client_, requeue_script(), redis::args(dlq, stream), argv,
                                 "the requeue script", true);
    result<requeue_result> out;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value.is_error() || !read_requeue_reply(r.value, out.value))
        out.error = failure::refused(r.value, "the requeue script");
    co_return out;
}

stream_store::task<long long> stream_store::delete_dead_letters(std::string_view type, bool all,
                                                                std::span<const std::string> ids) {
    auto dlq = dead_letter_key(type);
    std::string_view op = all ? "the clear script" : "XDEL";
    result<reply> r;
    if (all) {
        r = co_await run_script(client_, clear_dead_letters_script(), redis::args(dlq), {}, op);
    } else {
        auto argv = redis::args("XDEL", dlq);
        argv.insert(argv.end(), ids.begin(), ids.end());
        r = co_await exec(client_, redis::request(argv), op);
    }
    result<long long> out;
    if (!r.ok())
        out.error = std::move(r.error);
    else if (r.value.type != kind::integer)
        out.error = failure::refused(r.value, op);
    else
        out.value = r.value.integer;
    co_return out;
}

stream_store::task<stream_store::trimmed> stream_store::trim(std::string_view type,
                                                             const trim_request& t) {
    auto key = stream_key(type);
    auto max_length = std::to_string(t.max_length);
    auto per_round = std::to_string(t.per_round);
    auto r = co_await run_script(client_, trim_script(), redis::args(key),
                                 redis::args(max_length, t.oldest, per_round, t.unsafe ? "1" : "0"),
                                 "the trim script");
    result<trimmed> out;
    if (!r.ok()) {
        out.error = std::move(r.error);
    } else if (r.value.is_error() || r.value.elements.empty()) {
        out.error = failure::refused(r.value, "the trim script");
    } else {
        out.value.entries = r.value.elements[0].integer;
        for (std::size_t i = 1; i + 1 < r.value.elements.size(); i += 2)
            out.value.holders.emplace_back(std::move(r.value.elements[i].str),
                                           std::move(r.value.elements[i + 1].str));
    }
    co_return out;
}

}  // namespace sluice::store
