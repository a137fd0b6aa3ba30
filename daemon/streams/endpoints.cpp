#include "streams/endpoints.hpp"

#include "deliver/protocol.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "catalog/schema_catalog.hpp"
#include "http/message.hpp"
#include "http/service.hpp"
#include "log/logger.hpp"
#include "publish/redis_problem.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"
#include "redis/error.hpp"
#include "redis/script.hpp"
#include "streams/dead_letter_scripts.hpp"
#include "streams/groups.hpp"
#include "streams/pages.hpp"
#include "streams/query.hpp"
#include "streams/request_body.hpp"

namespace sluice::streams {
namespace {

namespace net = boost::asio;
using http::response;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view json = "application/json";

// Most requeue script calls one `{"all": true}` request makes (1,000 dead letters
// each): a request stays bounded even while new dead letters keep arriving.
constexpr std::size_t max_requeue_calls = 100;

struct sources {
    client_source redis;
    catalog_source catalog;
    page_limits limits;
};

// 404 unless the catalog has a contract for `type`.
std::optional<response> unknown_type(const sources& s, const std::string& type) {
    auto cat = s.catalog();
    if (cat && cat->types.contains(type)) return std::nullopt;
    http::problem p{404, "unknown_type", "Unknown event type", "no event type " + echo(type), {}};
    return http::make_problem(p);
}

response bad_query(const query_error& e) {
    std::string extra = R"("parameter":)";
    log::append_json_string(extra, e.parameter);
    http::problem p{400, "invalid_parameter", "Invalid query parameter", e.detail,
                    std::move(extra)};
    return http::make_problem(p);
}

response bad_body(const body_error& e) {
    http::problem p{400,
                    e.code,
                    e.code == "malformed_json" ? "Malformed JSON" : "Invalid request body",
                    e.detail,
                    {}};
    return http::make_problem(p);
}

// No reply from Redis: 503 with Retry-After. `effect` says what may have happened.
// A reply over redis.max_reply_bytes is a 502 whose detail (from `r`) gives its size.
response redis_failed(const boost::system::error_code& ec, std::string_view effect,
                      const redis::reply& r = {}) {
    auto f = publish::problem_for_redis_error(ec, r.str);
    if (ec != redis::error::reply_too_large)
        f.problem.detail = "Redis did not answer: " + ec.message() + "; " + std::string(effect);
    auto res = http::make_problem(f.problem);
    if (f.retry_after_seconds > 0)
        res.set(http::beast_http::field::retry_after, std::to_string(f.retry_after_seconds));
    return res;
}

// Redis answered with an error, or with a reply of the wrong shape: 503 (retry in a
// second) when Redis says "not now", else 500.
response redis_refused(const redis::reply& r, std::string_view what, const std::string& type) {
    auto f = publish::problem_for_redis_reply(r, what, "retry", type);
    auto res = http::make_problem(f.problem);
    if (f.problem.status == 503)
        res.set(http::beast_http::field::retry_after, std::to_string(f.retry_after_seconds));
    return res;
}

net::awaitable<response> read_page(const sources& s, const http::request_context& ctx,
                                   bool dead_letters) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    page_query q;
    auto bad =
        dead_letters ? parse_dead_letter_query(ctx.query, q) : parse_replay_query(ctx.query, q);
    if (bad) {
        auto res = bad_query(*bad);
        co_return res;
    }
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string key = dead_letters ? publish::dead_letter_key(type) : publish::stream_key(type);
    // In steps whose replies stay within the cap whatever the entries hold.
    page_reader page(q, s.limits);
    while (auto n = page.next_count()) {
        std::string count = std::to_string(n);
        auto [ec, r] = co_await redis.async_exec(
            redis::command("XRANGE", key, page.from(), q.last, "COUNT", count), use_tuple);
        if (ec == redis::error::reply_too_large && page.too_large()) continue;
        if (ec) {
            auto res = redis_failed(ec, "nothing was read", r);
            co_return res;
        }
        auto entries = r.is_error() ? std::nullopt : entries_from_xrange(r);
        if (!entries) {
            auto res = redis_refused(r, "XRANGE", type);
            co_return res;
        }
        page.take(std::move(*entries));
    }
    auto body = dead_letters ? dead_letter_page_json(type, page.entries(), page.more())
                             : replay_page_json(type, page.entries(), page.more());
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

net::awaitable<response> list_groups(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string key = publish::stream_key(type);
    // The first groups only: a stream may have more than one reply can carry.
    auto keys = redis::args(key);
    std::string most = std::to_string(groups_to_list(s.limits.max_reply_bytes));
    auto argv = redis::args(most);
    auto [ec, r] = co_await redis::eval(redis, list_groups_script(), keys, argv);
    if (ec) {
        auto res = redis_failed(ec, "nothing was read", r);
        co_return res;
    }
    std::vector<group_info> groups;
    long long total = 0;
    if (!r.is_error() || r.str.find("no such key") == std::string::npos) {
        auto parsed = r.is_error() ? std::nullopt : groups_from_listing(r, total);
        if (!parsed) {
            auto res = redis_refused(r, "the group listing script", type);
            co_return res;
        }
        groups = std::move(*parsed);
    }
    // Said in the answer only when the listing left groups out.
    if (total <= static_cast<long long>(groups.size())) total = -1;
    std::uint64_t now_ms = 0;
    // Every group's consumers and oldest pending entry, in pipelined requests whose
    // replies stay within half the reply cap by the groups' consumer counts; the last
    // one also asks Redis's clock, which also stamped the entry ids.
    std::vector<group_info> kept;
    for (std::size_t first = 0; first < groups.size();) {
        std::size_t last = first, budget = 0;
        redis::request details;
        while (last < groups.size() &&
               (last == first ||
                budget + group_details_bytes(groups[last]) <= s.limits.step_bytes())) {
            budget += group_details_bytes(groups[last]);
            details.push_command("XINFO", "CONSUMERS", key, groups[last].name);
            details.push_command("XPENDING", key, groups[last].name);
            ++last;
        }
        bool with_time = last == groups.size();
        if (with_time) details.push_command("TIME");
        std::size_t expected = 2 * (last - first) + (with_time ? 1 : 0);
        auto [ec2, r2] = co_await redis.async_exec(std::move(details), use_tuple);
        if (ec2) {
            auto res = redis_failed(ec2, "nothing was read", r2);
            co_return res;
        }
        if (r2.elements.size() != expected) {
            auto res = redis_refused(r2, "XINFO CONSUMERS / XPENDING / TIME", type);
            co_return res;
        }
        if (with_time) {
            auto now = ms_from_time(r2.elements.back());
            if (!now) {
                auto res = redis_refused(r2.elements.back(), "TIME", type);
                co_return res;
            }
            now_ms = *now;
        }
        for (std::size_t i = first; i < last; ++i) {
            const auto& consumers = r2.elements[2 * (i - first)];
            const auto& pending = r2.elements[2 * (i - first) + 1];
            // A group deleted between the round trips is left out.
            if (consumers.is_error() && consumers.str.starts_with("NOGROUP")) continue;
            if (!read_consumers(consumers, groups[i]) ||
                !read_pending_summary(pending, groups[i])) {
                auto res = redis_refused(consumers.is_error() ? consumers : pending,
                                         "XINFO CONSUMERS / XPENDING", type);
                co_return res;
            }
            kept.push_back(std::move(groups[i]));
        }
        first = last;
    }
    groups = std::move(kept);
    auto res = http::make_response(200, groups_json(type, groups, now_ms, total), json);
    co_return res;
}

net::awaitable<response> put_group(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    std::string group(ctx.params.get("group"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    if (!deliver::valid_group_name(group)) {
        http::problem p{400,
                        "invalid_group",
                        "Invalid consumer group name",
                        "a group name is 1 to 128 of A-Z a-z 0-9 . _ : -; got " + echo(group),
                        {}};
        auto res = http::make_problem(p);
        co_return res;
    }
    deliver::start_position from;
    auto bad = parse_group_body(ctx.req.body(), from);
    if (bad) {
        auto res = bad_body(*bad);
        co_return res;
    }
    std::string position = from.after();
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string key = publish::stream_key(type);
    auto [ec, r] = co_await redis.async_exec(
        redis::command("XGROUP", "CREATE", key, group, position, "MKSTREAM"), use_tuple);
    if (ec) {
        auto res = redis_failed(ec, "the group may or may not exist now");
        co_return res;
    }
    // BUSYGROUP (the group exists) before the transient check: it starts with "BUSY".
    bool created = !r.is_error();
    std::string_view command = "XGROUP CREATE";
    if (r.is_error() && r.str.starts_with("BUSYGROUP")) {
        command = "XGROUP SETID";
        auto [ec2, r2] = co_await redis.async_exec(
            redis::command("XGROUP", "SETID", key, group, position), use_tuple);
        if (ec2) {
            auto res = redis_failed(ec2, "the group may or may not have moved");
            co_return res;
        }
        r = std::move(r2);
    }
    if (r.is_error()) {
        auto res = redis_refused(r, command, type);
        co_return res;
    }
    std::string body = R"({"type":)";
    log::append_json_string(body, type);
    body += R"(,"group":)";
    log::append_json_string(body, group);
    body += R"(,"created":)" + std::string(created ? "true" : "false") + R"(,"position":)";
    log::append_json_string(body, position);
    body += '}';
    auto res = http::make_response(created ? 201 : 200, std::move(body), json);
    co_return res;
}

net::awaitable<response> requeue(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    entry_selection selection;
    auto bad = parse_entry_selection(ctx.req.body(), selection);
    if (bad) {
        auto res = bad_body(*bad);
        co_return res;
    }
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string dlq = publish::dead_letter_key(type);
    std::string stream = publish::stream_key(type);
    auto keys = redis::args(dlq, stream);
    std::string cap = std::to_string(max_page);
    requeue_result done;
    std::string start = "-";
    for (std::size_t call = 0; call < max_requeue_calls; ++call) {
        std::vector<std::string_view> argv;
        if (selection.all) {
            argv = redis::args("all", cap, start);
        } else {
            argv = redis::args("ids", cap);
            argv.insert(argv.end(), selection.entries.begin(), selection.entries.end());
        }
        auto [ec, r] = co_await redis::eval(redis, requeue_script(), keys, argv);
        if (ec) {
            auto res = redis_failed(ec,
                                    "some dead letters may have been requeued: list them "
                                    "before retrying");
            co_return res;
        }
        if (r.is_error() || !read_requeue_reply(r, done)) {
            auto res = redis_refused(r, "the requeue script", type);
            co_return res;
        }
        if (!selection.all || done.examined < static_cast<long long>(max_page)) break;
        start = "(" + done.last;
    }
    std::string body = R"({"type":)";
    log::append_json_string(body, type);
    body += R"(,"requeued":[)";
    for (std::size_t i = 0; i < done.requeued.size(); ++i) {
        body += i ? R"(,{"dlq_entry":)" : R"({"dlq_entry":)";
        log::append_json_string(body, done.requeued[i].first);
        body += R"(,"entry":)";
        log::append_json_string(body, done.requeued[i].second);
        body += '}';
    }
    body += R"(],"missing":[)";
    for (std::size_t i = 0; i < done.missing.size(); ++i) {
        if (i) body += ',';
        log::append_json_string(body, done.missing[i]);
    }
    body += "]}";
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

net::awaitable<response> delete_dead_letters(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    bool all_in_query = false;
    auto bad_q = parse_delete_query(ctx.query, all_in_query);
    if (bad_q) {
        auto res = bad_query(*bad_q);
        co_return res;
    }
    entry_selection selection;
    selection.all = all_in_query && is_blank(ctx.req.body());
    if (!selection.all) {
        auto bad = parse_entry_selection(ctx.req.body(), selection);
        if (!bad && all_in_query && !selection.all)
            bad = body_error{"invalid_body", "?all=true and a list of entries contradict"};
        if (bad) {
            auto res = bad_body(*bad);
            co_return res;
        }
    }
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string dlq = publish::dead_letter_key(type);
    redis::reply r;
    boost::system::error_code ec;
    if (selection.all) {
        auto keys = redis::args(dlq);
        std::vector<std::string_view> none;
        std::tie(ec, r) = co_await redis::eval(redis, clear_dead_letters_script(), keys, none);
    } else {
        auto argv = redis::args("XDEL", dlq);
        argv.insert(argv.end(), selection.entries.begin(), selection.entries.end());
        std::tie(ec, r) = co_await redis.async_exec(redis::request(argv), use_tuple);
    }
    if (ec) {
        auto res = redis_failed(ec, "some dead letters may have been deleted");
        co_return res;
    }
    if (r.type != redis::reply::kind::integer) {
        auto res = redis_refused(r, selection.all ? "the clear script" : "XDEL", type);
        co_return res;
    }
    std::string body = R"({"type":)";
    log::append_json_string(body, type);
    body += R"(,"deleted":)" + std::to_string(r.integer) + '}';
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

}  // namespace

void add_stream_endpoints(http::service& api, client_source redis, catalog_source catalog,
                          page_limits limits) {
    auto s = std::make_shared<const sources>(sources{std::move(redis), std::move(catalog), limits});
    api.route("GET", "/v1/streams/{type}/events",
              [s](const http::request_context& ctx) { return read_page(*s, ctx, false); });
    api.route("GET", "/v1/streams/{type}/groups",
              [s](const http::request_context& ctx) { return list_groups(*s, ctx); });
    api.route("PUT", "/v1/streams/{type}/groups/{group}",
              [s](const http::request_context& ctx) { return put_group(*s, ctx); });
    api.route("GET", "/v1/dlq/{type}",
              [s](const http::request_context& ctx) { return read_page(*s, ctx, true); });
    api.route("POST", "/v1/dlq/{type}/requeue",
              [s](const http::request_context& ctx) { return requeue(*s, ctx); });
    api.route("DELETE", "/v1/dlq/{type}",
              [s](const http::request_context& ctx) { return delete_dead_letters(*s, ctx); });
}

}  // namespace sluice::streams
