#include "app/redis_options.hpp"

namespace sluice::app {

redis::client_options to_client_options(const config::settings& s, std::string role) {
    const auto& r = s.redis;
    redis::client_options o;
    o.connection.min_replicas = s.publish.min_replicas;
    o.connection.replica_timeout = s.publish.replica_timeout;
    o.role = std::move(role);
    o.connection.endpoint = r.endpoint;
    o.connection.client_name = r.client_name;
    o.connection.connect_timeout = r.connect_timeout;
    o.connection.dead_after = r.dead_after;
    o.connection.max_pending_requests = r.max_pending_requests;
    o.connection.max_pending_bytes = r.max_pending_bytes;
    o.connection.limits.max_bytes = r.max_reply_bytes;
    o.connection.tls.ca_file = r.tls.ca_file;
    o.connection.tls.cert_file = r.tls.cert_file;
    o.connection.tls.key_file = r.tls.key_file;
    o.connection.tls.server_name = r.tls.server_name;
    o.connection.tls.verify = r.tls.verify;
    o.health_check_interval = r.health_check_interval;
    o.reconnect_min = r.reconnect_min;
    o.reconnect_max = r.reconnect_max;
    o.wait_when_disconnected = r.wait_when_disconnected;
    return o;
}

}  // namespace sluice::app
