#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "http/server.hpp"
#include "http/service.hpp"
#include "metrics/registry.hpp"
#include "net/tls_server.hpp"

namespace sluice::http {

// What every listener and session of one server reads. Thread-safe: the limits are
// swapped whole (atomic shared_ptr), the counters are atomics.
struct shared_state {
    std::shared_ptr<const service> api;
    metrics::registry& metrics;
    std::atomic<std::shared_ptr<const limits>> current_limits;
    std::atomic<bool> draining{false};
    std::atomic<std::size_t> open_connections{0};
    std::string upgrade_path{};  // set before start, then read-only
    upgrade_handler upgrade{};
    // Rate limit on new connections by client address (server::set_connection_gate).
    std::function<std::optional<long long>(std::string_view client)> connection_gate{};
    // What the TLS listener's new connections present (server::set_tls_context).
    std::atomic<std::shared_ptr<sluice::net::tls_server_context>> tls{};

    std::shared_ptr<const limits> get_limits() const {
        return current_limits.load(std::memory_order_acquire);
    }
    bool is_draining() const { return draining.load(std::memory_order_acquire); }
};

}  // namespace sluice::http
