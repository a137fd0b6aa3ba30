#include "store/dead_letters.hpp"

namespace sluice::store {

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

}  // namespace sluice::store
