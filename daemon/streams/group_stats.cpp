#include "streams/group_stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <vector>

#include "catalog/schema_catalog.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"
#include "redis/error.hpp"
#include "redis/script.hpp"
#include "streams/groups.hpp"

namespace sluice::streams {
namespace {
namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::chrono::seconds every{5};
constexpr long long forget_after_ms = 24LL * 3600 * 1000;
}  // namespace

struct group_stats::state : std::enable_shared_from_this<state> {
    redis::client& redis;
    catalog_source catalog;
    metrics::registry& metrics;
    std::size_t max_reply_bytes;
    std::optional<net::steady_timer> timer;
    bool stopped = false;

    state(redis::client& r, catalog_source c, metrics::registry& m, std::size_t max_reply)
        : redis(r), catalog(std::move(c)), metrics(m), max_reply_bytes(max_reply) {}

    // The list_groups_script replies of `keys`, in order: EVALSHA for all of them in
    // one pipelined request, then EVAL for those Redis did not have the script for.
    net::awaitable<std::optional<std::vector<redis::reply>>> list_groups(
        const std::vector<std::string>& keys, const std::string& most) {
        const auto& script = list_groups_script();
        redis::request req;
        for (const auto& key : keys) req.push_command("EVALSHA", script.sha1(), "1", key, most);
        auto [ec, r] = co_await redis.async_exec(std::move(req), use_tuple);
        std::optional<std::vector<redis::reply>> out;
        if (ec) {
            if (ec == redis::error::reply_too_large)
                log::warn("group stats: a reply over redis.max_reply_bytes, types skipped",
                          {{"detail", r.str}});
            co_return out;
        }
        if (keys.size() == 1) {
            out.emplace();
            out->push_back(std::move(r));
        } else if (r.elements.size() == keys.size()) {
            out = std::move(r.elements);
        } else {
            co_return out;
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
            auto& reply = (*out)[i];
            if (!reply.is_error() || !reply.str.starts_with("NOSCRIPT")) continue;
            auto one = redis::args(keys[i]);
            auto argv = redis::args(most);
            auto [ec2, r2] = co_await redis::eval(redis, script, one, argv);
            reply = ec2 ? redis::reply{} : std::move(r2);
        }
        co_return out;
    }

    // Sets the gauges of one type's groups; returns their names.
    std::vector<std::string> record(const std::string& type, const std::vector<group_info>& gs) {
        std::vector<std::string> names;
        for (const auto& g : gs) {
            metrics.set_group_backlog(type, g.name, g.pending, g.lag.value_or(-1));
            names.push_back(g.name);
        }
        return names;
    }

    // Every broker start adds consumers (one per I/O thread); those that hold nothing
    // and have been idle a day are removed so group listings stay readable.
    net::awaitable<void> forget_idle_consumers(const std::string& key, const std::string& group) {
        auto [ec, r] =
            co_await redis.async_exec(redis::command("XINFO", "CONSUMERS", key, group), use_tuple);
        group_info g;
        if (ec || r.is_error() || !read_consumers(r, g)) co_return;
        for (const auto& c : g.consumer_list) {
            if (c.name.empty() || c.pending != 0 || c.idle_ms < forget_after_ms) continue;
            auto [dec, dr] = co_await redis.async_exec(
                redis::command("XGROUP", "DELCONSUMER", key, group, c.name), use_tuple);
            if (dec) co_return;
        }
    }

    net::awaitable<void> run() {
        auto self = shared_from_this();
        for (std::uint64_t round = 1; !stopped; ++round) {
            timer->expires_after(every);
            co_await timer->async_wait(use_tuple);
            if (stopped) break;
            auto c = catalog();
            if (!c || c->types.empty()) continue;
            std::vector<std::string> types, keys;
            for (const auto& [type, versions] : c->types) {
                types.push_back(type);
                keys.push_back(publish::stream_key(type));
            }
            // Types per request: their replies together stay within half the cap.
            auto most = groups_to_list(max_reply_bytes);
            auto per_request =
                std::max<std::size_t>(1, max_reply_bytes / 2 / (most * group_reply_bytes));
            std::string most_text = std::to_string(most);
            for (std::size_t first = 0; first < types.size() && !stopped; first += per_request) {
                auto last = std::min(types.size(), first + per_request);
                std::vector<std::string> batch(keys.begin() + static_cast<std::ptrdiff_t>(first),
                                               keys.begin() + static_cast<std::ptrdiff_t>(last));
                auto replies = co_await list_groups(batch, most_text);
                if (stopped || !replies) continue;
                for (std::size_t i = first; i < last && !stopped; ++i) {
                    const auto& reply = (*replies)[i - first];
                    if (reply.is_error()) continue;  // a missing stream has no groups
                    long long total = 0;
                    auto groups = groups_from_listing(reply, total);
                    if (!groups) continue;
                    auto names = record(types[i], *groups);
                    if (round % 12 != 0) continue;  // consumers: once a minute
                    for (const auto& g : names) co_await forget_idle_consumers(keys[i], g);
                }
            }
        }
    }
};

group_stats::group_stats(redis::client& redis, catalog_source catalog, metrics::registry& metrics,
                         std::size_t max_reply_bytes)
    : state_(std::make_shared<state>(redis, std::move(catalog), metrics, max_reply_bytes)) {}

group_stats::~group_stats() = default;

void group_stats::start(net::any_io_executor ex) {
    state_->timer.emplace(ex);
    net::co_spawn(ex, state_->run(), sluice::net::report_failure("group stats"));
}

void group_stats::stop() {
    state_->stopped = true;
    if (state_->timer) state_->timer->cancel();
}

}  // namespace sluice::streams
