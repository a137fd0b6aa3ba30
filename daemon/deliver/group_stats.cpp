#include "deliver/group_stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <vector>

#include "catalog/schema_catalog.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"

namespace sluice::deliver {
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
    std::optional<net::steady_timer> timer;
    bool stopped = false;

    state(redis::client& r, catalog_source c, metrics::registry& m)
        : redis(r), catalog(std::move(c)), metrics(m) {}

    // One XINFO GROUPS reply: a list of flat [name, value, ...] maps. Returns the
    // group names.
    std::vector<std::string> record(const std::string& type, const redis::reply& r) {
        std::vector<std::string> names;
        for (const auto& g : r.elements) {
            std::string name;
            long long pending = 0, lag = -1;
            for (std::size_t i = 0; i + 1 < g.elements.size(); i += 2) {
                const auto& k = g.elements[i].str;
                const auto& v = g.elements[i + 1];
                if (k == "name") name = v.str;
                if (k == "pending") pending = v.integer;
                if (k == "lag" && v.type == redis::reply::kind::integer) lag = v.integer;
            }
            if (!name.empty()) metrics.set_group_backlog(type, name, pending, lag);
            if (!name.empty()) names.push_back(std::move(name));
        }
        return names;
    }

    // Every broker start adds consumers (one per I/O thread); those that hold nothing
    // and have been idle a day are removed so group listings stay readable.
    net::awaitable<void> forget_idle_consumers(const std::string& key, const std::string& group) {
        auto [ec, r] =
            co_await redis.async_exec(redis::command("XINFO", "CONSUMERS", key, group), use_tuple);
        if (ec || r.is_error()) co_return;
        for (const auto& c : r.elements) {
            std::string name;
            long long pending = -1, idle = 0;
            for (std::size_t i = 0; i + 1 < c.elements.size(); i += 2) {
                const auto& k = c.elements[i].str;
                if (k == "name") name = c.elements[i + 1].str;
                if (k == "pending") pending = c.elements[i + 1].integer;
                if (k == "idle") idle = c.elements[i + 1].integer;
            }
            if (name.empty() || pending != 0 || idle < forget_after_ms) continue;
            auto [dec, dr] = co_await redis.async_exec(
                redis::command("XGROUP", "DELCONSUMER", key, group, name), use_tuple);
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
            if (!c) continue;
            for (const auto& [type, versions] : c->types) {
                auto key = publish::stream_key(type);
                auto [ec, r] =
                    co_await redis.async_exec(redis::command("XINFO", "GROUPS", key), use_tuple);
                if (stopped || ec) break;
                if (r.is_error()) continue;  // a missing stream has no groups
                auto groups = record(type, r);
                if (round % 12 != 0) continue;  // consumers: once a minute
                for (const auto& g : groups) co_await forget_idle_consumers(key, g);
            }
        }
    }
};

group_stats::group_stats(redis::client& redis, catalog_source catalog, metrics::registry& metrics)
    : state_(std::make_shared<state>(redis, std::move(catalog), metrics)) {}

group_stats::~group_stats() = default;

void group_stats::start(net::any_io_executor ex) {
    state_->timer.emplace(ex);
    net::co_spawn(ex, state_->run(), sluice::net::report_failure("group stats"));
}

void group_stats::stop() {
    state_->stopped = true;
    if (state_->timer) state_->timer->cancel();
}

}  // namespace sluice::deliver
