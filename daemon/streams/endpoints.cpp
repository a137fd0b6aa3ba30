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
response redis_failed(const boost::system::error_code& ec, std::string_view effect) {
    auto f = publish::problem_for_redis_error(ec);
    f.problem.detail = "Redis did not answer: " + ec.message() + "; " + std::string(effect);
    auto res = http::make_problem(f.problem);
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
    std::string count = std::to_string(q.limit);
    auto [ec, r] = co_await redis.async_exec(
        redis::command("XRANGE", key, q.first, q.last, "COUNT", count), use_tuple);
    if (ec) {
        auto res = redis_failed(ec, "nothing was read");
        co_return res;
    }
    auto entries = r.is_error() ? std::nullopt : entries_from_xrange(r);
    if (!entries) {
        auto res = redis_refused(r, "XRANGE", type);
        co_return res;
    }
    auto body = dead_letters ? dead_letter_page_json(type, *entries, q.limit)
                             : replay_page_json(type, *entries, q.limit);
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

net::awaitable<response> list_groups(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    redis::client& redis = s.redis(co_await net::this_coro::executor);
    std::string key = publish::stream_key(type);
    auto [ec, r] = co_await redis.async_exec(redis::command("XINFO", "GROUPS", key), use_tuple);
    if (ec) {
        auto res = redis_failed(ec, "nothing was read");
        co_return res;
    }
    std::vector<group_info> groups;
    if (!r.is_error() || r.str.find("no such key") == std::string::npos) {
        auto parsed = r.is_error() ? std::nullopt : groups_from_xinfo(r);
        if (!parsed) {
            auto res = redis_refused(r, "XINFO GROUPS", type);
            co_return res;
        }
        groups = std::move(*parsed);
    }
    std::uint64_t now_ms = 0;
    if (!groups.empty()) {
        // One round trip for every group's consumers and oldest pending entry, and
        // Redis's clock, which also stamped the entry ids.
        redis::request details;
        for (const auto& g : groups) {
            details.push_command("XINFO", "CONSUMERS", key, g.name);
            details.push_command("XPENDING", key, g.name);
        }
        details.push_command("TIME");
        auto [ec2, r2] = co_await redis.async_exec(std::move(details), use_tuple);
        if (ec2) {
            auto res = redis_failed(ec2, "nothing was read");
            co_return res;
        }
        if (r2.elements.size() != 2 * groups.size() + 1) {
            auto res = redis_refused(r2, "XINFO CONSUMERS / XPENDING / TIME", type);
            co_return res;
        }
        auto now = ms_from_time(r2.elements.back());
        if (!now) {
            auto res = redis_refused(r2.elements.back(), "TIME", type);
            co_return res;
        }
        now_ms = *now;
        std::vector<group_info> kept;
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const auto& consumers = r2.elements[2 * i];
            const auto& pending = r2.elements[2 * i + 1];
            // A group deleted between the two round trips is left out.
            if (consumers.is_error() && consumers.str.starts_with("NOGROUP")) continue;
            if (!read_consumers(consumers, groups[i]) ||
                !read_pending_summary(pending, groups[i])) {
                auto res = redis_refused(consumers.is_error() ? consumers : pending,
                                         "XINFO CONSUMERS / XPENDING", type);
                co_return res;
            }
            kept.push_back(std::move(groups[i]));
        }
        groups = std::move(kept);
    }
    auto res = http::make_response(200, groups_json(type, groups, now_ms), json);
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

void add_stream_endpoints(http::service& api, client_source redis, catalog_source catalog) {
    auto s = std::make_shared<const sources>(sources{std::move(redis), std::move(catalog)});
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
