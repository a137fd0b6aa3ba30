#pragma once

#include <string>

#include "config/settings.hpp"
#include "redis/client.hpp"

namespace sluice::app {

// The `redis` section as the options of one client; `role` names it in metrics and
// logs ("main", "io-0", "deliver").
redis::client_options to_client_options(const config::settings::redis_settings& r,
                                        std::string role);

}  // namespace sluice::app
