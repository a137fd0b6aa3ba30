#include "deliver/scripts.hpp"

namespace sluice::deliver {

const redis::script& claim_script() {
    static const redis::script s(R"lua(
local group, consumer = ARGV[1], ARGV[2]
local timeout, base, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_deliveries, count, now = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local limit = math.max(count * 4, 100)
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', timeout, ARGV[9], '+', limit)
local claimed, dead = {}, {}
local last = nil
for _, p in ipairs(pending) do
  if #claimed >= count then break end
  local id, idle, n = p[1], tonumber(p[3]), tonumber(p[4])
  last = id
  local due = timeout + math.min(base * 2 ^ (n - 1), cap)
  if idle >= due then
    local field = group .. '\n' .. id
    if n >= max_deliveries then
      local e = redis.call('XRANGE', KEYS[1], id, id)
      if #e > 0 then
        local f = e[1][2]
        local reason = redis.call('HGET', KEYS[3], field) or 'ack deadline passed'
        for _, v in ipairs({'dlq_entry', id, 'dlq_group', group, 'dlq_deliveries', tostring(n),
                            'dlq_reason', reason, 'dlq_time', now}) do
          f[#f + 1] = v
        end
        redis.call('XADD', KEYS[2], '*', unpack(f))
      end
      redis.call('XACK', KEYS[1], group, id)
      redis.call('HDEL', KEYS[3], field)
      dead[#dead + 1] = id
    else
      local c = redis.call('XCLAIM', KEYS[1], group, consumer, math.floor(due), id)
      if c[1] then
        claimed[#claimed + 1] = {c[1][1], c[1][2], n + 1}
      end
    end
  end
end
local next = '-'
if last and (#claimed >= count or #pending == limit) then next = '(' .. last end
return {claimed, dead, next}
)lua");
    return s;
}

}  // namespace sluice::deliver
