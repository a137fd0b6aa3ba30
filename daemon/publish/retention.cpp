#include "publish/retention.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>
#include "catalog/schema_catalog.hpp"

#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/supervise.hpp"
#include "redis/client.hpp"
#include "store/stream_store.hpp"

namespace sluice::publish {
namespace {

namespace asio = boost::asio;

// Entries one script call may remove (and read, to find the cutoff): bounds how long
// one call holds Redis; a backlog is worked off by further calls.
constexpr std::size_t max_trim_per_round = 1'000;

}  // namespace

struct retention_trimmer::state : std::enable_shared_from_this<retention_trimmer::state> {
    redis::client& redis;
    catalog_source catalog;
    metrics::registry* metrics;
    std::chrono::milliseconds period;
    std::unique_ptr<asio::steady_timer> timer;
    bool stopping = false;
    // Per type, the groups reported idle, to log and set the gauge on transitions only.
    std::map<std::string, std::set<std::string>> idle;

    state(redis::client& r, catalog_source c, metrics::registry* m, std::chrono::milliseconds p)
        : redis(r), catalog(std::move(c)), metrics(m), period(p) {}

    // Groups that held trimming back with an entry older than idle_group_after are
    // reported idle (a warning once, and the gauge); others are cleared.
    void report_holders(const std::string& type, const registry::type_policy& policy,
                        const std::vector<std::pair<std::string, std::string>>& holders) {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        std::set<std::string> holding_now;
        for (const auto& [group, needed] : holders) {
            long long ms = std::atoll(needed.substr(0, needed.find('-')).c_str());
            auto age = now - std::chrono::milliseconds(ms);
            if (age <= policy.idle_group_after) continue;
            holding_now.insert(group);
            if (idle[type].insert(group).second) {
                log::warn("idle consumer group is holding back retention",
                          {{"type", type},
                           {"group", group},
                           {"oldest_needed_entry", needed},
                           {"age_ms", static_cast<long long>(age.count())}});
                if (metrics) metrics->set_retention_blocked(type, group, true);
            }
        }
        auto& reported = idle[type];
        for (auto it = reported.begin(); it != reported.end();) {
            if (holding_now.count(*it)) {
                ++it;
                continue;
            }
            if (metrics) metrics->set_retention_blocked(type, *it, false);
            it = reported.erase(it);
        }
    }

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        store::stream_store store(redis);
        while (!stopping) {
            timer->expires_after(period);
            co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
            if (stopping || !redis.is_up()) continue;
            auto cat = catalog();
            if (!cat) continue;
            for (const auto& [type, policy] : cat->policies) {
                if (policy.max_length == 0 && policy.max_age.count() == 0) continue;
                store::stream_store::trim_request t;
                t.max_length = policy.max_length;
                if (policy.max_age.count() > 0) {
                    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch());
                    t.oldest = std::to_string((now - policy.max_age).count()) + "-0";
                }
                t.per_round = max_trim_per_round;
                t.unsafe = policy.unsafe;
                store::result<store::stream_store::trimmed> r;
                // A round that hit the per-call cap continues at once (bounded), so a
                // fast stream is trimmed as fast as it grows.
                for (int call = 0; call < 100; ++call) {
                    r = co_await store.trim(type, t);
                    if (!r.ok() || r.value.entries < static_cast<long long>(max_trim_per_round))
                        break;
                }
                if (!r.ok()) {
                    log::debug("retention round failed",
                               {{"type", type},
                                {"error", r.error.ec ? r.error.ec.message() : r.error.text}});
                    continue;
                }
                if (r.value.entries > 0)
                    log::debug("retention trimmed", {{"type", type}, {"entries", r.value.entries}});
                report_holders(type, policy, r.value.holders);
            }
        }
    }
};

retention_trimmer::retention_trimmer(redis::client& redis, catalog_source catalog,
                                     metrics::registry* metrics, std::chrono::milliseconds period)
    : state_(std::make_shared<state>(redis, std::move(catalog), metrics, period)) {}

retention_trimmer::~retention_trimmer() {
    stop();
}

void retention_trimmer::start(asio::any_io_executor ex) {
    state_->timer = std::make_unique<asio::steady_timer>(ex);
    sluice::net::supervision how;
    how.task = "retention";
    how.stopped = [s = state_] { return s->stopping; };
    how.on_restart = [s = state_] {
        if (s->metrics) s->metrics->count_task_restart("retention");
    };
    sluice::net::supervise(
        ex, [s = state_] { return s->run(); }, std::move(how));
}

void retention_trimmer::stop() {
    state_->stopping = true;
    if (state_->timer) state_->timer->cancel();
}

}  // namespace sluice::publish
