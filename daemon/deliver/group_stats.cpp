#include "deliver/group_stats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

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
}  // namespace

struct group_stats::state : std::enable_shared_from_this<state> {
    redis::client& redis;
    catalog_source catalog;
    metrics::registry& metrics;
    std::optional<net::steady_timer> timer;
    bool stopped = false;

    state(redis::client& r, catalog_source c, metrics::registry& m)
        : redis(r), catalog(std::move(c)), metrics(m) {}

    // One XINFO GROUPS reply: a list of flat [name, value, ...] maps.
    void record(const std::string& type, const redis::reply& r) {
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
        }
    }

    net::awaitable<void> run() {
        auto self = shared_from_this();
        while (!stopped) {
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
                if (!r.is_error()) record(type, r);  // a missing stream has no groups
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
