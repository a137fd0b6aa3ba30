#pragma once

#include <string>

#include "config/settings.hpp"
#include "redis/client.hpp"

namespace sluice::app {

// The `redis` section (and publish.min_replicas, which its connections apply to
// replicated writes) as the options of one client; `role` names it in metrics and
// logs ("main", "io-0", "deliver").
redis::client_options to_client_options(const config::settings& s, std::string role);

}  // namespace sluice::app
