#include "streams/group_stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <vector>

#include "catalog/schema_catalog.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/supervise.hpp"
#include "redis/client.hpp"
#include "redis/error.hpp"
#include "store/stream_store.hpp"

namespace sluice::streams {
namespace {
namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr long long forget_after_ms = 24LL * 3600 * 1000;
}  // namespace

struct group_stats::state : std::enable_shared_from_this<state> {
    redis::client& redis;
    catalog_source catalog;
    metrics::registry& metrics;
    std::size_t max_reply_bytes;
    std::chrono::milliseconds every;
    std::optional<net::steady_timer> timer;
    bool stopped = false;

    state(redis::client& r, catalog_source c, metrics::registry& m, std::size_t max_reply,
          std::chrono::milliseconds period)
        : redis(r), catalog(std::move(c)), metrics(m), max_reply_bytes(max_reply), every(period) {}

    // Sets the gauges of one type's groups; returns their names.
    std::vector<std::string> record(const std::string& type,
                                    const std::vector<store::group_info>& gs) {
        std::vector<std::string> names;
        for (const auto& g : gs) {
            metrics.set_group_backlog(type, g.name, g.pending, g.lag.value_or(-1));
            names.push_back(g.name);
        }
        return names;
    }

    // Every broker start adds consumers (one per I/O thread); those that hold nothing
    // and have been idle a day are removed so group listings stay readable.
    net::awaitable<void> forget_idle_consumers(store::stream_store& store, const std::string& type,
                                               const std::string& group) {
        auto r = co_await store.consumers(type, group);
        if (!r.ok()) co_return;
        for (const auto& c : r.value) {
            if (c.name.empty() || c.pending != 0 || c.idle_ms < forget_after_ms) continue;
            auto gone = co_await store.delete_consumer(type, group, c.name);
            if (gone.error.what == store::failure::kind::no_reply) co_return;
        }
    }

    net::awaitable<void> run() {
        auto self = shared_from_this();
        store::stream_store store(redis);
        for (std::uint64_t round = 1; !stopped; ++round) {
            timer->expires_after(every);
            co_await timer->async_wait(use_tuple);
            if (stopped) break;
            auto c = catalog();
            if (!c || c->types.empty()) continue;
            std::vector<std::string> types;
            for (const auto& [type, versions] : c->types) types.push_back(type);
            // Types per request: their replies together stay within half the cap.
            auto most = store::groups_to_list(max_reply_bytes);
            auto per_request =
                std::max<std::size_t>(1, max_reply_bytes / 2 / (most * store::group_reply_bytes));
            for (std::size_t first = 0; first < types.size() && !stopped; first += per_request) {
                auto last = std::min(types.size(), first + per_request);
                std::span<const std::string> batch(types.data() + first, last - first);
                auto listed = co_await store.list_groups(batch, most);
                if (stopped) continue;
                if (!listed.ok()) {
                    if (listed.error.ec == redis::error::reply_too_large)
                        log::warn("group stats: a reply over redis.max_reply_bytes, types skipped",
                                  {{"detail", listed.error.text}});
                    continue;
                }
                for (std::size_t i = first; i < last && !stopped; ++i) {
                    // A missing stream has no groups; a failed listing keeps the gauges.
                    const auto& one = listed.value[i - first];
                    if (!one.ok()) continue;
                    auto names = record(types[i], one.value.groups);
                    if (round % 12 != 0) continue;  // consumers: once a minute
                    for (const auto& g : names) co_await forget_idle_consumers(store, types[i], g);
                }
            }
        }
    }
};

group_stats::group_stats(redis::client& redis, catalog_source catalog, metrics::registry& metrics,
                         std::size_t max_reply_bytes, std::chrono::milliseconds every)
    : state_(std::make_shared<state>(redis, std::move(catalog), metrics, max_reply_bytes, every)) {}

group_stats::~group_stats() = default;

void group_stats::start(net::any_io_executor ex) {
    state_->timer.emplace(ex);
    sluice::net::supervision how;
    how.task = "group_stats";
    how.stopped = [s = state_] { return s->stopped; };
    how.on_restart = [s = state_] { s->metrics.count_task_restart("group_stats"); };
    sluice::net::supervise(
        ex, [s = state_] { return s->run(); }, std::move(how));
}

void group_stats::stop() {
    state_->stopped = true;
    if (state_->timer) state_->timer->cancel();
}

}  // namespace sluice::streams
