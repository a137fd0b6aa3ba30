#include "store/scripts.hpp"

namespace sluice::store {

const redis::script& append_script() {
    static const redis::script s(R"lua(
local first = redis.call('GET', KEYS[2])
if first then
  -- A write that replicates (the key's own expiry, unchanged), so a WAIT after this
  -- duplicate covers the first append, which came before it in the replication stream.
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  return {0, first}
end
local entry = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], entry, 'PX', ARGV[1])
return {1, entry}
)lua");
    return s;
}

const redis::script& claim_script() {
    static const redis::script s(R"lua(
local group, consumer = ARGV[1], ARGV[2]
local timeout, base, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_deliveries, count, now = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local limit = math.max(count * 4, 100)
-- What each broker instance of this group said its subscriptions wait for an ack (the
-- longest of theirs, at most the type's): what it holds is due after that.
local owner_timeout, least = {}, timeout
local prefix = group .. '\n'
local saved = redis.call('HGETALL', KEYS[4])
for i = 1, #saved, 2 do
  if string.sub(saved[i], 1, #prefix) == prefix then
    local t = math.min(tonumber(saved[i + 1]) or timeout, timeout)
    owner_timeout[string.sub(saved[i], #prefix + 1)] = t
    if t < least then least = t end
  end
end
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', least, ARGV[9], '+', limit)
local claimed, dead = {}, {}
local last = nil
for _, p in ipairs(pending) do
  if #claimed >= count then break end
  local id, idle, n = p[1], tonumber(p[3]), tonumber(p[4])
  last = id
  local due = (owner_timeout[p[2]] or timeout) + math.min(base * 2 ^ (n - 1), cap)
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

const redis::script& requeue_script() {
    static const redis::script s(R"lua(
local requeued, missing = {}, {}
local function requeue(id, fields)
  local event = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 4) ~= 'dlq_' then
      event[#event + 1] = fields[i]
      event[#event + 1] = fields[i + 1]
    end
  end
  if #event == 0 then
    missing[#missing + 1] = id
    return
  end
  local entry = redis.call('XADD', KEYS[2], '*', unpack(event))
  redis.call('XDEL', KEYS[1], id)
  requeued[#requeued + 1] = id
  requeued[#requeued + 1] = entry
end
if ARGV[1] == 'all' then
  local batch = redis.call('XRANGE', KEYS[1], ARGV[3], '+', 'COUNT', ARGV[2])
  for _, e in ipairs(batch) do
    requeue(e[1], e[2])
  end
  local last = ''
  if #batch > 0 then last = batch[#batch][1] end
  return {requeued, missing, #batch, last}
end
for i = 3, math.min(#ARGV, 2 + tonumber(ARGV[2])) do
  local found = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #found == 0 then
    missing[#missing + 1] = ARGV[i]
  else
    requeue(found[1][1], found[1][2])
  end
end
return {requeued, missing, 0, ''}
)lua");
    return s;
}

const redis::script& clear_dead_letters_script() {
    static const redis::script s(R"lua(
local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
)lua");
    return s;
}

const redis::script& list_groups_script() {
    // KEYS[1] stream; ARGV[1] most groups; ARGV[2] list only names after this one
    // ("" from the first). XINFO GROUPS answers in byte order of names; Lua's `<` on
    // strings follows the server's locale, so the cursor is compared byte by byte.
    // Returns {groups in all, group...}.
    static const redis::script s(R"lua(
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if groups.err then return groups end
local function later(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local most, after = tonumber(ARGV[1]), ARGV[2] or ''
local out = {#groups}
for i = 1, #groups do
  if #out > most then break end
  if after == '' or later(groups[i][2], after) then out[#out + 1] = groups[i] end
end
return out
)lua");
    return s;
}

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

}  // namespace sluice::store
