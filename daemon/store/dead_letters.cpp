#include "streams/dead_letter_scripts.hpp"

namespace sluice::streams {

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

bool read_requeue_reply(const redis::reply& r, requeue_result& out) {
    using kind = redis::reply::kind;
    if (r.type != kind::array || r.elements.size() != 4) return false;
    const auto& pairs = r.elements[0];
    const auto& missing = r.elements[1];
    if (pairs.type != kind::array || pairs.elements.size() % 2 != 0 ||
        missing.type != kind::array || r.elements[2].type != kind::integer)
        return false;
    for (std::size_t i = 0; i < pairs.elements.size(); i += 2)
        out.requeued.emplace_back(pairs.elements[i].str, pairs.elements[i + 1].str);
    for (const auto& m : missing.elements) out.missing.push_back(m.str);
    out.examined = r.elements[2].integer;
    out.last = r.elements[3].str;
    return true;
}

}  // namespace sluice::streams
