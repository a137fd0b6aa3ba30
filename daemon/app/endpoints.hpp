#pragma once

#include "http/service.hpp"

namespace sluice::metrics {
class registry;
}

namespace sluice::app {

class readiness;

// Adds GET /healthz, /readyz, /metrics and /v1/version to `api`. The referenced
// objects must outlive the server.
void add_operational_endpoints(http::service& api, const readiness& ready,
                               metrics::registry& metrics);

}  // namespace sluice::app
