#pragma once

#include <string>

#include "config/redis_url.hpp"
#include "config/settings.hpp"
#include "redis/client.hpp"

namespace sluice::app {

// The config's Redis endpoint (parsed from redis.url and its keys) as the Redis
// layer's plain endpoint: the Redis layer knows nothing of the config.
redis::endpoint to_redis_endpoint(const config::redis_endpoint& e);

// The `redis` section as the options of one client; `role` names it in metrics and
// logs ("main", "io-0", "deliver").
redis::client_options to_client_options(const config::settings::redis_settings& r,
                                        std::string role);

}  // namespace sluice::app
