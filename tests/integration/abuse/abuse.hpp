#pragma once

// What every attack in tests/integration/abuse checks afterwards: the broker is
// alive, answers /healthz quickly, and its memory came back near where it was.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <thread>

#include "support/child_process.hpp"
#include "support/http_client.hpp"

namespace sluice::test {

// Milliseconds one GET /healthz on a new connection takes; fails the test unless 200.
inline double healthz_ms(std::uint16_t port) {
    auto started = std::chrono::steady_clock::now();
    auto r = http_get(port, "/healthz");
    CHECK(r.status == 200);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
        .count();
}

// Waits (up to `wait`) for the process's resident memory to fall within `slack_kib`
// of `baseline_kib`; returns the last reading.
inline long settle_resident_kib(const child_process& p, long baseline_kib, long slack_kib,
                                std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    long now = p.resident_kib();
    while (now > baseline_kib + slack_kib && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        now = p.resident_kib();
    }
    return now;
}

}  // namespace sluice::test
