#pragma once

// Helpers shared by tests that publish large events and read Prometheus text.

#include <cstddef>
#include <string>

namespace sluice::test {

// An order.placed CloudEvent whose data holds about `bytes` bytes (one line's sku).
inline std::string big_order(int n, std::size_t bytes) {
    return R"({"specversion":"1.0","type":"order.placed","source":"/tests","id":"big-)" +
           std::to_string(n) +
           R"(","data":{"order_id":"o","customer_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41",)"
           R"("lines":[{"sku":")" +
           std::string(bytes, 's') + R"(","quantity":1,"unit_price":1}],"total":1}})";
}

// The value of the first sample of `name` (with its labels, e.g. `x{a="b"}`) in a
// Prometheus text answer, or -1 when it is absent.
inline double metric(const std::string& text, const std::string& name) {
    auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace sluice::test
