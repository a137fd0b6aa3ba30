#include "publish/retention.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>
#include "catalog/schema_catalog.hpp"

#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"
#include "redis/script.hpp"

namespace sluice::publish {
namespace {

namespace asio = boost::asio;

// Entries one script call may remove (and read, to find the cutoff): bounds how long
// one call holds Redis; a backlog is worked off by further calls.
constexpr std::size_t max_trim_per_round = 1'000;

const redis::script& trim_script() {
    // KEYS[1] stream; ARGV[1] max length (0: none); ARGV[2] oldest id to keep by age
    // ("0": none); ARGV[3] most entries to drop by length in one call; ARGV[4] "1" to
    // ignore consumer groups (the operator's explicit `unsafe`).
    // Returns {entries trimmed, group, id it needs, group, id...} for every group that
    // held the cutoff back.
    static const redis::script s(R"lua(
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)
  local ms, seq = parse(id)
  return string.format('%.0f-%.0f', ms, seq + 1)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local per_round = tonumber(ARGV[3])
local cutoff = nil
if ARGV[2] ~= '0' then cutoff = ARGV[2] end
local max_length = tonumber(ARGV[1])
if max_length > 0 then
  local excess = redis.call('XLEN', KEYS[1]) - max_length
  if excess > 0 then
    local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', math.min(excess, per_round))
    local by_length = after(oldest[#oldest][1])
    if cutoff == nil or less(cutoff, by_length) then cutoff = by_length end
  end
end
if cutoff == nil then return {0} end
-- At most per_round entries go in one call, so one round never blocks Redis long.
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', per_round)
if #head == per_round then
  local cap = after(head[#head][1])
  if less(cap, cutoff) then cutoff = cap end
end
local first = head[1] and head[1][1] or cutoff
local wanted = cutoff
local holding = {}
for _, group in ipairs(ARGV[4] == '1' and {} or redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, delivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
  end
  local needed = after(delivered)
  local pending = redis.call('XPENDING', KEYS[1], name)
  if pending[1] > 0 and less(pending[2], needed) then needed = pending[2] end
  if less(needed, wanted) then
    -- Every group that holds the policy's cutoff back is reported, with the oldest
    -- entry it keeps (not older than the stream itself), for its age.
    table.insert(holding, name)
    table.insert(holding, less(needed, first) and first or needed)
    if less(needed, cutoff) then cutoff = needed end
  end
end
local result = {redis.call('XTRIM', KEYS[1], 'MINID', cutoff)}
for _, v in ipairs(holding) do table.insert(result, v) end
return result
)lua");
    return s;
}

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
                        const redis::reply& r) {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        std::set<std::string> holding_now;
        for (std::size_t i = 1; i + 1 < r.elements.size(); i += 2) {
            const auto& group = r.elements[i].str;
            const auto& needed = r.elements[i + 1].str;
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
        constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
        while (!stopping) {
            timer->expires_after(period);
            co_await timer->async_wait(use_tuple);
            if (stopping || !redis.is_up()) continue;
            auto cat = catalog();
            if (!cat) continue;
            for (const auto& [type, policy] : cat->policies) {
                if (policy.max_length == 0 && policy.max_age.count() == 0) continue;
                std::string key = stream_key(type);
                std::string max_length = std::to_string(policy.max_length);
                std::string oldest = "0";
                if (policy.max_age.count() > 0) {
                    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch());
                    oldest = std::to_string((now - policy.max_age).count()) + "-0";
                }
                std::string per_round = std::to_string(max_trim_per_round);
                std::string unsafe = policy.unsafe ? "1" : "0";
                auto keys = redis::args(key);
                auto argv = redis::args(max_length, oldest, per_round, unsafe);
                redis::reply r;
                boost::system::error_code ec;
                // A round that hit the per-call cap continues at once (bounded), so a
                // fast stream is trimmed as fast as it grows.
                for (int call = 0; call < 100; ++call) {
                    auto [e, reply] = co_await redis::eval(redis, trim_script(), keys, argv);
                    ec = e;
                    r = std::move(reply);
                    if (ec || r.is_error() || r.elements.empty() ||
                        r.elements[0].integer < static_cast<long long>(max_trim_per_round))
                        break;
                }
                if (ec || r.is_error() || r.elements.empty()) {
                    log::debug("retention round failed",
                               {{"type", type}, {"error", ec ? ec.message() : r.str}});
                    continue;
                }
                if (r.elements[0].integer > 0)
                    log::debug("retention trimmed",
                               {{"type", type}, {"entries", r.elements[0].integer}});
                report_holders(type, policy, r);
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
    asio::co_spawn(ex, state_->run(), sluice::net::report_failure("retention trimmer"));
}

void retention_trimmer::stop() {
    state_->stopping = true;
    if (state_->timer) state_->timer->cancel();
}

}  // namespace sluice::publish
