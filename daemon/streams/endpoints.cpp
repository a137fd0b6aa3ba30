#include "streams/endpoints.hpp"

#include "deliver/position.hpp"
#include "deliver/protocol.hpp"
#include "json/write.hpp"

#include <boost/beast/http/field.hpp>

#include "auth/permissions.hpp"
#include "catalog/schema_catalog.hpp"
#include "http/message.hpp"
#include "http/service.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "redis/error.hpp"
#include "store/problem.hpp"
#include "store/stream_store.hpp"
#include "streams/groups.hpp"
#include "streams/pages.hpp"
#include "streams/query.hpp"
#include "streams/request_body.hpp"

namespace sluice::streams {
namespace {

namespace net = boost::asio;
using http::response;
constexpr std::string_view json = "application/json";

// Most requeue script calls one `{"all": true}` request makes (1,000 dead letters
// each): a request stays bounded even while new dead letters keep arriving.
constexpr std::size_t max_requeue_calls = 100;

struct sources {
    catalog_source catalog;
    page_limits limits;
    metrics::registry& metrics;
};

// 404 unless the catalog has a contract for `type`.
std::optional<response> unknown_type(const sources& s, const std::string& type) {
    auto cat = s.catalog();
    if (cat && cat->types.contains(type)) return std::nullopt;
    http::problem p{404, "unknown_type", "Unknown event type", "no event type " + echo(type), {}};
    return http::make_problem(p);
}

// One audit line per admin action that changed something (docs/security.md): who,
// what, on which type, and what changed.
void audit(const http::request_context& ctx, std::string_view action, std::string_view type,
           std::initializer_list<log::field> changed) {
    std::vector<log::field> fields{
        {"principal", ctx.who ? std::string_view(ctx.who->name) : std::string_view("open")},
        {"action", action},
        {"type", type}};
    fields.insert(fields.end(), changed.begin(), changed.end());
    log::write(log::level::info, "audit", fields);
}

response bad_query(const query_error& e) {
    std::string extra = R"("parameter":)";
    json::append_string(extra, e.parameter);
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

// A store operation that failed: no reply is 503 with Retry-After, saying what may
// have happened (`effect`), or 502 for a reply over redis.max_reply_bytes; a refusal is
// 503 (retry in a second) when Redis says "not now", else 500.
response store_failed(const store::failure& f, std::string_view effect, std::string_view type) {
    bool refused = f.what == store::failure::kind::refused;
    auto out = store::problem_for(f, refused ? std::string_view("retry") : effect, type);
    auto res = http::make_problem(out.problem);
    if (out.problem.status == 503 && out.retry_after_seconds > 0)
        res.set(http::beast_http::field::retry_after, std::to_string(out.retry_after_seconds));
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
    auto& store = ctx.worker.get<store::stream_store>();
    auto which = dead_letters ? store::stream_store::stream_kind::dead_letters
                              : store::stream_store::stream_kind::events;
    // In steps whose replies stay within the cap whatever the entries hold.
    page_reader page(q, s.limits);
    while (auto n = page.next_count()) {
        auto r = co_await store.range(which, type, page.from(), q.last, n);
        if (r.error.ec == redis::error::reply_too_large && page.too_large()) continue;
        if (!r.ok()) {
            auto res = store_failed(r.error, "nothing was read", type);
            co_return res;
        }
        page.take(std::move(r.value));
    }
    if (page.cut_by_bytes()) s.metrics.count_limit(metrics::limit::page_bytes);
    auto body = dead_letters ? dead_letter_page_json(type, page.entries(), page.more())
                             : replay_page_json(type, page.entries(), page.more());
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

// GET /v1/dlq/{type}/{entry}: one dead letter.
net::awaitable<response> read_dead_letter(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    std::string entry(ctx.params.get("entry"));
    if (entry == "requeue") {  // the requeue route's path, with another method
        http::problem p{405,
                        "method_not_allowed",
                        "Method not allowed",
                        "GET is not allowed on /v1/dlq/" + echo(type) + "/requeue; allowed: POST",
                        {}};
        auto res = http::make_problem(p);
        res.set(http::beast_http::field::allow, "POST");
        co_return res;
    }
    auto id = deliver::parse_entry_id(entry);
    if (!id || entry.find('-') == std::string::npos) {
        http::problem p{400,
                        "invalid_entry",
                        "Invalid entry id",
                        echo(entry) + " is not a dead letter's entry id (<ms>-<seq>)",
                        {}};
        auto res = http::make_problem(p);
        co_return res;
    }
    auto& store = ctx.worker.get<store::stream_store>();
    auto r =
        co_await store.range(store::stream_store::stream_kind::dead_letters, type, entry, entry, 1);
    if (!r.ok()) {
        auto res = store_failed(r.error, "nothing was read", type);
        co_return res;
    }
    if (r.value.empty()) {
        http::problem p{404,
                        "dead_letter_not_found",
                        "No such dead letter",
                        "no dead letter " + echo(entry) + " for " + echo(type),
                        {}};
        auto res = http::make_problem(p);
        co_return res;
    }
    auto res = http::make_response(200, dead_letter_json(type, r.value.front()), json);
    co_return res;
}

net::awaitable<response> list_groups(const sources& s, const http::request_context& ctx) {
    std::string type(ctx.params.get("type"));
    auto unknown = unknown_type(s, type);
    if (unknown) co_return std::move(*unknown);
    std::string after;
    if (auto bad = parse_groups_query(ctx.query, after)) {
        auto res = bad_query(*bad);
        co_return res;
    }
    auto& store = ctx.worker.get<store::stream_store>();
    // A page of groups by name: a stream may have more than one reply can carry. One
    // more than the page is asked for, to know whether another page follows.
    auto most = store::groups_to_list(s.limits.max_reply_bytes);
    auto listed = co_await store.list_groups(type, most + 1, after);
    if (!listed.ok()) {
        auto res = store_failed(listed.error, "nothing was read", type);
        co_return res;
    }
    auto& groups = listed.value.groups;
    group_page page;
    if (groups.size() > most) {
        groups.resize(most);
        page.next = groups.back().name;
        page.total = listed.value.total;
        s.metrics.count_limit(metrics::limit::listed_groups);
    } else if (!after.empty()) {
        page.total = listed.value.total;
    }
    std::uint64_t now_ms = 0;
    // Every group's consumers and oldest pending entry, in pipelined requests whose
    // replies stay within half the reply cap by the groups' consumer counts; the last
    // one also asks Redis's clock, which also stamped the entry ids.
    std::vector<store::group_info> kept;
    for (std::size_t first = 0; first < groups.size();) {
        std::size_t last = first, budget = 0;
        while (last < groups.size() &&
               (last == first ||
                budget + store::group_details_bytes(groups[last]) <= s.limits.step_bytes())) {
            budget += store::group_details_bytes(groups[last]);
            ++last;
        }
        std::vector<store::group_info> step(std::make_move_iterator(groups.begin() + first),
                                            std::make_move_iterator(groups.begin() + last));
        bool with_time = last == groups.size();
        auto described = co_await store.describe_groups(type, step, with_time);
        if (!described.ok()) {
            auto res = store_failed(described.error, "nothing was read", type);
            co_return res;
        }
        if (with_time) now_ms = described.value;
        for (auto& g : step) kept.push_back(std::move(g));
        first = last;
    }
    groups = std::move(kept);
    auto res = http::make_response(200, groups_json(type, groups, now_ms, page), json);
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
    auto& store = ctx.worker.get<store::stream_store>();
    auto placed = co_await store.place_group(type, group, position);
    if (!placed.ok()) {
        auto res =
            store_failed(placed.error,
                         placed.error.op == "XGROUP SETID" ? "the group may or may not have moved"
                                                           : "the group may or may not exist now",
                         type);
        co_return res;
    }
    bool created = placed.value;
    audit(ctx, created ? "group.create" : "group.move", type,
          {{"group", group}, {"position", position}});
    std::string body = R"({"type":)";
    json::append_string(body, type);
    body += R"(,"group":)";
    json::append_string(body, group);
    body += R"(,"created":)" + std::string(created ? "true" : "false") + R"(,"position":)";
    json::append_string(body, position);
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
    auto& store = ctx.worker.get<store::stream_store>();
    store::requeue_result done;
    std::string start = "-";
    for (std::size_t call = 0; call < max_requeue_calls; ++call) {
        auto r = co_await store.requeue(type, selection.all, start, max_page, selection.entries);
        if (!r.ok()) {
            auto res = store_failed(r.error,
                                    "some dead letters may have been requeued: list them "
                                    "before retrying",
                                    type);
            co_return res;
        }
        auto& one = r.value;
        done.requeued.insert(done.requeued.end(), one.requeued.begin(), one.requeued.end());
        done.missing.insert(done.missing.end(), one.missing.begin(), one.missing.end());
        done.examined = one.examined;
        done.last = one.last;
        if (!selection.all || done.examined < static_cast<long long>(max_page)) break;
        start = "(" + done.last;
    }
    audit(ctx, "dead_letters.requeue", type,
          {{"all", selection.all},
           {"requeued", done.requeued.size()},
           {"missing", done.missing.size()}});
    std::string body = R"({"type":)";
    json::append_string(body, type);
    body += R"(,"requeued":[)";
    for (std::size_t i = 0; i < done.requeued.size(); ++i) {
        body += i ? R"(,{"dlq_entry":)" : R"({"dlq_entry":)";
        json::append_string(body, done.requeued[i].first);
        body += R"(,"entry":)";
        json::append_string(body, done.requeued[i].second);
        body += '}';
    }
    body += R"(],"missing":[)";
    for (std::size_t i = 0; i < done.missing.size(); ++i) {
        if (i) body += ',';
        json::append_string(body, done.missing[i]);
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
    auto& store = ctx.worker.get<store::stream_store>();
    auto r = co_await store.delete_dead_letters(type, selection.all, selection.entries);
    if (!r.ok()) {
        auto res = store_failed(r.error, "some dead letters may have been deleted", type);
        co_return res;
    }
    audit(ctx, "dead_letters.delete", type, {{"all", selection.all}, {"deleted", r.value}});
    std::string body = R"({"type":)";
    json::append_string(body, type);
    body += R"(,"deleted":)" + std::to_string(r.value) + '}';
    auto res = http::make_response(200, std::move(body), json);
    co_return res;
}

}  // namespace

void add_stream_endpoints(http::service& api, catalog_source catalog, metrics::registry& metrics,
                          page_limits limits) {
    auto s = std::make_shared<const sources>(sources{std::move(catalog), limits, metrics});
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
    api.route("GET", "/v1/dlq/{type}/{entry}",
              [s](const http::request_context& ctx) { return read_dead_letter(*s, ctx); });
    api.route("DELETE", "/v1/dlq/{type}",
              [s](const http::request_context& ctx) { return delete_dead_letters(*s, ctx); });
}

}  // namespace sluice::streams
