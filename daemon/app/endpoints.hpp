#pragma once

#include "auth/authenticator.hpp"

#include "http/service.hpp"

namespace sluice::catalog {
class holder;
}
namespace sluice::metrics {
class registry;
}

namespace sluice::app {

class readiness;

// Adds GET /healthz, /readyz, /metrics and /v1/version to `api`; /readyz counts the
// types and versions of the catalog in `catalogs`. The referenced objects must
// outlive the server.
// /readyz also says whether authentication is on ("auth":"enabled" or "disabled").
void add_operational_endpoints(http::service& api, const readiness& ready,
                               const catalog::holder& catalogs, metrics::registry& metrics,
                               const auth::holder& auth);

}  // namespace sluice::app
