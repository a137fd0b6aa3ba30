#pragma once

// Redis replies built by hand, for unit tests of code that reads them.

#include <string>
#include <utility>
#include <vector>

#include "redis/resp.hpp"

namespace sluice::test {

inline redis::reply str(std::string s) {
    redis::reply r;
    r.type = redis::reply::kind::string;
    r.str = std::move(s);
    return r;
}

inline redis::reply num(long long n) {
    redis::reply r;
    r.type = redis::reply::kind::integer;
    r.integer = n;
    return r;
}

inline redis::reply nil() {
    return {};
}

inline redis::reply array(std::vector<redis::reply> items) {
    redis::reply r;
    r.type = redis::reply::kind::array;
    r.elements = std::move(items);
    return r;
}

template <typename... R>
redis::reply list(R... items) {
    std::vector<redis::reply> v;
    (v.push_back(std::move(items)), ...);
    return array(std::move(v));
}

// One stream entry as XRANGE returns it: [id, [field, value, ...]].
inline redis::reply entry(std::string id, std::vector<std::string> fields) {
    std::vector<redis::reply> f;
    for (auto& s : fields) f.push_back(str(std::move(s)));
    return list(str(std::move(id)), array(std::move(f)));
}

}  // namespace sluice::test
