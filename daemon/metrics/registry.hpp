#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace sluice::metrics {

// The limits of docs/operations.md that have no metric of their own: each time one
// stops a client, sluice_limits_reached_total{limit="<its config key>"} counts it.
enum class limit : unsigned char {
    http_idle_timeout,
    http_write_timeout,
    publish_max_batch,
    publish_max_violations,
    publish_max_answer_bytes,
    websocket_max_message_bytes,
    websocket_max_subscriptions,
    websocket_send_timeout,
    websocket_ping_interval,  // a peer silent for two intervals, cut
    page_bytes,               // a replay or dead-letter page cut short by redis.max_reply_bytes
    listed_groups,            // a type's group listing cut at its cap
};
inline constexpr std::size_t limit_count = 11;
// The config key a limit is named by in its label.
std::string_view limit_name(limit l);

// What the binary is: reported by /v1/version and sluice_build_info.
struct build_info {
    static std::string_view version();
    static std::string_view commit();
    static std::string_view compiler();
};

// The series of one Redis client (label `client`: its role, e.g. "main").
// Thread-safe; cheap to copy (pointers into the registry).
class redis_client_metrics {
  public:
    void set_up(bool up) const;
    void count_reconnect() const;
    void observe_rtt(double seconds) const;
    void set_pending(std::size_t requests) const;
    void count_reply_too_large() const;

  private:
    friend class registry;
    prometheus::Gauge* up_ = nullptr;
    prometheus::Counter* reconnects_ = nullptr;
    prometheus::Histogram* rtt_ = nullptr;
    prometheus::Gauge* pending_ = nullptr;
    prometheus::Counter* replies_too_large_ = nullptr;
};

// The delivery series of one (type, group), looked up once per reader: deliveries
// (first and later), acks, nacks and dead letters.
struct delivery_series {
    prometheus::Counter* delivered = nullptr;
    prometheus::Counter* redelivered = nullptr;
    prometheus::Counter* acked = nullptr;
    prometheus::Counter* nacked = nullptr;
    prometheus::Counter* dead_lettered = nullptr;
};

// The process's Prometheus registry and the metric families Sluice exports.
// Thread-safe: every method may be called from any I/O thread.
class registry {
  public:
    registry();
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // Counts one answered HTTP request and its duration. `route` is the route
    // pattern (e.g. "/v1/version", or "unmatched"), never the raw path, so label
    // cardinality stays bounded.
    void observe_request(std::string_view route, std::string_view method, unsigned status,
                         double seconds);

    void connection_opened();
    void connection_closed();

    // A connection turned away at accept: `reason` is "max_connections" or
    // "per_client_limit" (http.max_connections, http.max_connections_per_client).
    void count_connection_refused(std::string_view reason);

    // A connection closed because it sent nothing within http.first_byte_timeout.
    void count_first_byte_timeout();

    // A TLS handshake on tls_listen that failed: `why` is "timeout" (none within
    // http.first_byte_timeout) or "refused" (bad client hello, no or untrusted client
    // certificate). sluice_tls_handshake_failures_total{why}.
    void count_tls_handshake_failure(std::string_view why);
    // The listener's certificate (re)loaded: when it expires, in seconds since the epoch.
    void set_tls_certificate_expiry(double unix_seconds);

    // One client stopped by `l` (a series per limit, made up front: no lock, no lookup).
    void count_limit(limit l);
    // A request refused by a rate limit: `what` is "publish", "connection" or
    // "subscribe" (sluice_rate_limited_total{what}).
    void count_rate_limited(std::string_view what);

    // An exception that escaped a connection's work or an I/O thread's handlers, caught
    // so the thread keeps serving. `where` is a fixed name: "http_session",
    // "websocket_session", "websocket_writer", "fanout_feed", "io_loop", "control_loop".
    void count_internal_error(std::string_view where);
    // A background task (group reader, tail watch, poller, trimmer) failed and restarts.
    void count_task_restart(std::string_view task);

    // The series of the Redis client with this role (created on first use).
    redis_client_metrics redis_client(const std::string& role);

    // Counts `events` published events by type, version and result ("stored", "duplicate",
    // "redis_error", or the problem code such as "schema_violation"). Type and version
    // are empty/0 when the event never named a known one.
    void count_publish(std::string_view type, unsigned version, std::string_view result,
                       std::size_t events = 1);

    // 1 while `group` of `type` holds back retention with an entry older than the
    // type's idle_group_after, else 0.
    void set_retention_blocked(const std::string& type, const std::string& group, bool blocked);

    // Publish latency (request read -> Redis confirmed) and events per request.
    void observe_publish(double seconds, std::size_t events);

    // The delivery series of `group` ("" for fan-out) of `type`. Group names come
    // from clients: past 1000 distinct (type, group) pairs, new ones share the group
    // label "_other" so no client can mint series without bound. Stable references.
    delivery_series& delivery(const std::string& type, const std::string& group);

    // From an event's stream entry time to its frame written to the socket.
    void observe_delivery_latency(double seconds);

    void websocket_opened();
    void websocket_closed();
    // A WebSocket closed (1008) because the bytes queued toward it passed
    // websocket.max_queued_bytes.
    void count_websocket_overflow();
    void subscriptions_changed(int delta);

    // Pending (delivered, unacked) and lag (not yet delivered) of a consumer group,
    // polled from Redis; lag < 0 when Redis cannot tell. At most 1000 (type, group)
    // series: groups are named by clients.
    void set_group_backlog(const std::string& type, const std::string& group, long long pending,
                           long long lag);

    // Counts a config reload attempt; `ok` false when it was refused.
    void count_reload(bool ok);

    // The whole registry in the Prometheus text exposition format (version 0.0.4).
    std::string serialize() const;

    prometheus::Registry& prometheus_registry() { return *registry_; }

  private:
    struct request_series {
        prometheus::Counter* count;
        prometheus::Histogram* duration;
    };

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>* requests_;
    prometheus::Family<prometheus::Histogram>* request_duration_;
    prometheus::Gauge* open_connections_;
    prometheus::Counter* connections_total_;
    prometheus::Family<prometheus::Counter>* connections_refused_;
    prometheus::Counter* first_byte_timeouts_;
    std::array<prometheus::Counter*, limit_count> limits_reached_{};
    std::array<prometheus::Counter*, 3> rate_limited_{};
    std::array<prometheus::Counter*, 2> tls_handshake_failures_{};
    prometheus::Family<prometheus::Gauge>* tls_expiry_;
    prometheus::Family<prometheus::Counter>* internal_errors_;
    prometheus::Family<prometheus::Counter>* task_restarts_;
    prometheus::Counter* websocket_overflows_;
    prometheus::Family<prometheus::Gauge>* redis_up_;
    prometheus::Family<prometheus::Counter>* redis_reconnects_;
    prometheus::Family<prometheus::Histogram>* redis_rtt_;
    prometheus::Family<prometheus::Gauge>* redis_pending_;
    prometheus::Family<prometheus::Counter>* redis_replies_too_large_;
    prometheus::Counter* reloads_ok_;
    prometheus::Counter* reloads_failed_;

    prometheus::Family<prometheus::Counter>* publishes_;
    prometheus::Family<prometheus::Gauge>* retention_blocked_;
    prometheus::Histogram* publish_latency_;
    prometheus::Histogram* publish_batch_size_;
    std::unordered_map<std::string, prometheus::Counter*> publish_series_;

    prometheus::Family<prometheus::Counter>* deliveries_;
    prometheus::Histogram* delivery_latency_;
    prometheus::Gauge* websockets_;
    prometheus::Gauge* subscriptions_;
    prometheus::Family<prometheus::Gauge>* group_pending_;
    prometheus::Family<prometheus::Gauge>* group_lag_;
    std::mutex delivery_mutex_;
    std::unordered_map<std::string, std::unique_ptr<delivery_series>> delivery_series_;
    std::unordered_set<std::string> backlog_series_;

    // Label lookups in prometheus-cpp build a std::map per call; cache the series.
    std::mutex series_mutex_;
    std::unordered_map<std::string, request_series> series_;
};

}  // namespace sluice::metrics
