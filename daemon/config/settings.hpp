#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "config/redis_url.hpp"
#include "log/logger.hpp"
#include "net/tls_server.hpp"
#include "registry/type_policy.hpp"

namespace sluice::config {

using duration = std::chrono::milliseconds;

// Everything Sluice reads from its YAML file and environment, validated. Defaults here
// are the documented defaults (config/sluice.yaml shows each one).
struct settings {
    std::string source;  // the file it was loaded from, for messages

    // Who may do what (docs/security.md); disabled when the config has no `auth:`.
    auth::auth_settings auth;

    struct listen_settings {
        bool enabled = true;  // false: HTTPS alone (tls_listen)
        std::string address = "127.0.0.1";
        std::uint16_t port = 8080;  // 0 picks a free port (tests)
    } listen;

    // A second listener for /healthz, /readyz, /metrics, /v1/version and the admin
    // endpoints, which the public one then no longer serves (docs/security.md).
    struct admin_listen_settings {
        bool enabled = false;
        std::string address = "127.0.0.1";
        std::uint16_t port = 0;
    } admin_listen;

    // The HTTPS and WSS listener (docs/security.md), beside or instead of `listen`.
    struct tls_listen_settings {
        bool enabled = false;
        std::string address = "127.0.0.1";
        std::uint16_t port = 0;
        net::tls_server_settings certificate;
    } tls_listen;

    // I/O threads, each with its own io_context, acceptor and Redis connection.
    unsigned threads = 1;

    struct redis_settings {
        std::string url = "redis://127.0.0.1:6379";
        redis_endpoint endpoint;  // url, with username/password/db keys applied
        std::string client_name = "sluice";
        duration connect_timeout{2000};
        duration health_check_interval{1000};  // PING when idle this often
        duration dead_after{3000};             // no reply for this long: connection is dead
        duration reconnect_min{100};
        duration reconnect_max{5000};
        duration wait_when_disconnected{0};  // 0: requests fail at once while Redis is away
        std::size_t max_pending_requests = 100'000;
        std::size_t max_pending_bytes = 64 * 1024 * 1024;
        std::size_t max_reply_bytes = 64 * 1024 * 1024;
        std::string mode;  // redis.mode as given ("" when not given)
        // redis.sentinel.username/password: the sentinels' ACL (copied into `endpoint`).
        std::string sentinel_username;
        std::string sentinel_password;
        struct tls_settings {
            std::string ca_file;
            std::string cert_file;
            std::string key_file;
            std::string server_name;  // defaults to the URL's host
            bool verify = true;
        } tls;
    } redis;

    struct http_settings {
        std::size_t max_body_bytes = 1024 * 1024;
        std::size_t max_header_bytes = 16 * 1024;
        duration idle_timeout{60'000};
        duration first_byte_timeout{5'000};  // a new connection must start a request by then
        duration read_timeout{10'000};
        duration write_timeout{10'000};
        std::size_t max_connections = 10'000;
        std::size_t max_connections_per_client = 1'000;  // per client address; 0: no limit
        bool access_log = false;
    } http;

    struct websocket_settings {
        std::size_t max_message_bytes = 64 * 1024;  // largest client frame
        std::size_t max_subscriptions = 100;        // per connection
        // A socket whose queued frames are not written within this is closed (1008).
        duration send_timeout{10'000};
        // Ping an idle socket this often; one that answers nothing for two
        // intervals is closed.
        duration ping_interval{30'000};
        // Bytes queued toward one client (event, error and control frames); past it the
        // socket is closed (1008).
        std::size_t max_queued_bytes = 16 * 1024 * 1024;
        // Pages (browser origins) that may open a socket; empty: only the broker's own.
        std::vector<std::string> allowed_origins;
        // With auth on, a socket opened without credentials must send an `auth` frame
        // within this, or it is closed (4401).
        duration auth_timeout{10'000};
    } websocket;

    struct log_settings {
        log::level level = log::level::info;
        log::format format = log::format::json;
    } log;

    struct schema_settings {
        std::string dir = "schemas";  // relative paths resolve against the config file's folder
        // Bounds on checking one request's events, so one event cannot hold an I/O
        // thread: a `pattern` search gives up past these (a regex_limit violation)...
        std::uint32_t regex_match_limit = 100'000;  // backtracking steps per search
        std::uint32_t regex_depth_limit = 10'000;   // nested backtracking levels per search
        // ...and a request's events share this many evaluation steps (evaluation_budget).
        std::uint64_t max_evaluation_steps = 1'000'000;
    } schemas;

    // Per event type; a type without an entry gets `type_defaults`.
    registry::type_policy type_defaults;
    std::map<std::string, registry::type_policy> types;

    struct publish_settings {
        std::string source = "sluice";  // CloudEvents `source` when the publisher gives none
        duration idempotency_window{
            86'400'000};                  // a repeated (source, id) within this is stored once
        std::size_t max_batch = 1000;     // events in one batch request
        std::size_t max_violations = 20;  // listed per event that breaks its contract
        // Violations listed in one answer, in bytes: a batch of bad events cannot earn
        // an answer many times its size.
        std::size_t max_answer_bytes = 256 * 1024;
        // A publish is answered 2xx only once this many replicas have it (WAIT);
        // otherwise 503 not_replicated after replica_timeout. Changes on restart.
        unsigned min_replicas = 0;
        duration replica_timeout{1000};
    } publish;

    struct shutdown_settings {
        // SIGTERM: /readyz answers 503 at once, but connections are still accepted and
        // served this long, so load balancers stop sending before the listener closes.
        duration drain_delay{5'000};
        // Then: in-flight requests get this long to finish before connections are cut.
        duration grace_period{10'000};
    } shutdown;

    struct reload_settings {
        // Besides SIGHUP: look at the config file and the schemas folder this often and
        // reload when a file changed (a Kubernetes ConfigMap volume updates in place).
        // 0 turns it off.
        duration watch_interval{0};
    } reload;

    struct metrics_settings {
        // How often each type's consumer groups are read for sluice_group_pending and
        // sluice_group_lag (idle consumers are cleaned every 12th time).
        duration group_stats_interval{5000};
    } metrics;
};

}  // namespace sluice::config
