#include "publish/retention.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "catalog/schema_catalog.hpp"
#include "log/logger.hpp"
#include "net/report_failure.hpp"
#include "publish/storage.hpp"
#include "redis/client.hpp"
#include "redis/script.hpp"

namespace sluice::publish {
namespace {

namespace asio = boost::asio;

// Entries inspected per stream per round when trimming by length: bounds the work of
// one call; a long backlog is worked off over several rounds.
constexpr std::size_t max_trim_per_round = 10'000;

const redis::script& trim_script() {
    // KEYS[1] stream; ARGV[1] max length (0: none); ARGV[2] oldest id to keep by age
    // ("0": none); ARGV[3] most entries to drop by length in one call.
    // Returns how many entries were trimmed.
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
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cutoff = nil
if ARGV[2] ~= '0' then cutoff = ARGV[2] end
local max_length = tonumber(ARGV[1])
if max_length > 0 then
  local excess = redis.call('XLEN', KEYS[1]) - max_length
  if excess > 0 then
    local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', math.min(excess, tonumber(ARGV[3])))
    local by_length = after(oldest[#oldest][1])
    if cutoff == nil or less(cutoff, by_length) then cutoff = by_length end
  end
end
if cutoff == nil then return 0 end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, delivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
  end
  local needed = after(delivered)
  local pending = redis.call('XPENDING', KEYS[1], name)
  if pending[1] > 0 and less(pending[2], needed) then needed = pending[2] end
  if less(needed, cutoff) then cutoff = needed end
end
return redis.call('XTRIM', KEYS[1], 'MINID', cutoff)
)lua");
    return s;
}

}  // namespace

struct retention_trimmer::state : std::enable_shared_from_this<retention_trimmer::state> {
    redis::client& redis;
    catalog_source catalog;
    std::chrono::milliseconds period;
    std::unique_ptr<asio::steady_timer> timer;
    bool stopping = false;

    state(redis::client& r, catalog_source c, std::chrono::milliseconds p)
        : redis(r), catalog(std::move(c)), period(p) {}

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
                auto keys = redis::args(key);
                auto argv = redis::args(max_length, oldest, per_round);
                auto [ec, r] = co_await redis::eval(redis, trim_script(), keys, argv);
                if (ec || r.is_error()) {
                    log::debug("retention round failed",
                               {{"type", type}, {"error", ec ? ec.message() : r.str}});
                } else if (r.integer > 0) {
                    log::debug("retention trimmed", {{"type", type}, {"entries", r.integer}});
                }
            }
        }
    }
};

retention_trimmer::retention_trimmer(redis::client& redis, catalog_source catalog,
                                     std::chrono::milliseconds period)
    : state_(std::make_shared<state>(redis, std::move(catalog), period)) {}

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
