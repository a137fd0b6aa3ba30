#include "metrics/registry.hpp"

#include <charconv>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace sluice::metrics {
namespace {

#define SLUICE_STR2(x) #x
#define SLUICE_STR(x) SLUICE_STR2(x)

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
    // 50 µs to 10 s: covers a loopback Redis round trip up to a stalled request.
    static const prometheus::Histogram::BucketBoundaries b{
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
    return b;
}

}  // namespace

std::string_view build_info::version() {
    return SLUICE_VERSION;
}
std::string_view build_info::commit() {
    return SLUICE_GIT_COMMIT;
}
std::string_view build_info::compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " SLUICE_STR(__GNUC__) "." SLUICE_STR(__GNUC_MINOR__) "." SLUICE_STR(
        __GNUC_PATCHLEVEL__);
#else
    return "unknown";
#endif
}

registry::registry() : registry_(std::make_shared<prometheus::Registry>()) {
    using namespace prometheus;
    BuildGauge()
        .Name("sluice_build_info")
        .Help("Sluice build; the value is always 1")
        .Register(*registry_)
        .Add({{"version", std::string(build_info::version())},
              {"commit", std::string(build_info::commit())},
              {"compiler", std::string(build_info::compiler())}})
        .Set(1);
    requests_ = &BuildCounter()
                     .Name("sluice_http_requests_total")
                     .Help("HTTP requests answered, by route pattern, method and status")
                     .Register(*registry_);
    request_duration_ =
        &BuildHistogram()
             .Name("sluice_http_request_duration_seconds")
             .Help("Time from a request's last byte read to its response written, by route")
             .Register(*registry_);
    open_connections_ = &BuildGauge()
                             .Name("sluice_http_open_connections")
                             .Help("HTTP connections open now")
                             .Register(*registry_)
                             .Add({});
    connections_total_ = &BuildCounter()
                              .Name("sluice_http_connections_total")
                              .Help("HTTP connections accepted")
                              .Register(*registry_)
                              .Add({});
    redis_up_ =
        &BuildGauge()
             .Name("sluice_redis_up")
             .Help("1 while the Redis client is connected and answers its health checks, else 0")
             .Register(*registry_);
    redis_reconnects_ = &BuildCounter()
                             .Name("sluice_redis_reconnects_total")
                             .Help("Connections to Redis re-established after a failure")
                             .Register(*registry_);
    redis_rtt_ = &BuildHistogram()
                      .Name("sluice_redis_rtt_seconds")
                      .Help("Round-trip time of Redis health-check PINGs")
                      .Register(*registry_);
    redis_pending_ = &BuildGauge()
                          .Name("sluice_redis_pending_requests")
                          .Help("Redis requests queued, in flight or waiting for a connection")
                          .Register(*registry_);
    redis_replies_too_large_ =
        &BuildCounter()
             .Name("sluice_redis_replies_too_large_total")
             .Help(
                 "Redis replies over redis.max_reply_bytes, skipped: each failed only its "
                 "own request")
             .Register(*registry_);
    publishes_ = &BuildCounter()
                      .Name("sluice_publish_events_total")
                      .Help(
                          "Events published, by type, version and result (stored, duplicate, "
                          "redis_error, or the "
                          "problem code, e.g. schema_violation)")
                      .Register(*registry_);
    retention_blocked_ =
        &BuildGauge()
             .Name("sluice_retention_blocked_groups")
             .Help(
                 "1 while a consumer group holds back a type's retention with an entry older than "
                 "its idle_group_after")
             .Register(*registry_);
    publish_latency_ = &BuildHistogram()
                            .Name("sluice_publish_duration_seconds")
                            .Help("From a publish request read to Redis confirming its events")
                            .Register(*registry_)
                            .Add({}, latency_buckets());
    publish_batch_size_ = &BuildHistogram()
                               .Name("sluice_publish_batch_events")
                               .Help("Events per publish request")
                               .Register(*registry_)
                               .Add({}, prometheus::Histogram::BucketBoundaries{
                                            1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000});
    deliveries_ = &BuildCounter()
                       .Name("sluice_delivery_events_total")
                       .Help(
                           "Deliveries (first and later), acks, nacks and dead letters, by type "
                           "and consumer group (\"\" for fan-out)")
                       .Register(*registry_);
    delivery_latency_ =
        &BuildHistogram()
             .Name("sluice_delivery_latency_seconds")
             .Help("From an event's stream entry time to its frame written to the WebSocket")
             .Register(*registry_)
             .Add({}, latency_buckets());
    websockets_ = &BuildGauge()
                       .Name("sluice_websocket_connections")
                       .Help("WebSocket connections open now")
                       .Register(*registry_)
                       .Add({});
    subscriptions_ = &BuildGauge()
                          .Name("sluice_websocket_subscriptions")
                          .Help("Subscriptions open now, over every WebSocket")
                          .Register(*registry_)
                          .Add({});
    group_pending_ = &BuildGauge()
                          .Name("sluice_group_pending")
                          .Help("Entries delivered to a consumer group and not yet acknowledged")
                          .Register(*registry_);
    group_lag_ = &BuildGauge()
                      .Name("sluice_group_lag")
                      .Help("Entries of the stream not yet delivered to a consumer group")
                      .Register(*registry_);
    connections_refused_ = &BuildCounter()
                                .Name("sluice_http_connections_refused_total")
                                .Help(
                                    "Connections turned away at accept, by reason "
                                    "(max_connections, per_client_limit)")
                                .Register(*registry_);
    first_byte_timeouts_ =
        &BuildCounter()
             .Name("sluice_http_first_byte_timeouts_total")
             .Help("Connections closed because they sent nothing within http.first_byte_timeout")
             .Register(*registry_)
             .Add({});
    auto& limits = BuildCounter()
                       .Name("sluice_limits_reached_total")
                       .Help("Clients stopped by a limit, by the limit's config key")
                       .Register(*registry_);
    for (std::size_t i = 0; i < limit_count; ++i)
        limits_reached_[i] =
            &limits.Add({{"limit", std::string(limit_name(static_cast<limit>(i)))}});
    auto& rate_limited = BuildCounter()
                             .Name("sluice_rate_limited_total")
                             .Help("Requests refused by a rate limit (rate_limits), by what")
                             .Register(*registry_);
    rate_limited_ = {&rate_limited.Add({{"what", "publish"}}),
                     &rate_limited.Add({{"what", "connection"}}),
                     &rate_limited.Add({{"what", "subscribe"}})};
    auto& tls_failures = BuildCounter()
                             .Name("sluice_tls_handshake_failures_total")
                             .Help(
                                 "TLS handshakes on tls_listen that failed, by why (timeout, "
                                 "refused)")
                             .Register(*registry_);
    tls_handshake_failures_ = {&tls_failures.Add({{"why", "timeout"}}),
                               &tls_failures.Add({{"why", "refused"}})};
    tls_expiry_ = &BuildGauge()
                       .Name("sluice_tls_certificate_expiry_timestamp_seconds")
                       .Help("When the tls_listen certificate in service expires (Unix time)")
                       .Register(*registry_);
    internal_errors_ = &BuildCounter()
                            .Name("sluice_internal_errors_total")
                            .Help(
                                "Exceptions caught at a connection's or an I/O thread's boundary; "
                                "the thread went on serving")
                            .Register(*registry_);
    task_restarts_ = &BuildCounter()
                          .Name("sluice_task_restarts_total")
                          .Help(
                              "Background tasks that failed and were restarted after a backoff, "
                              "by task")
                          .Register(*registry_);
    websocket_overflows_ =
        &BuildCounter()
             .Name("sluice_websocket_send_overflows_total")
             .Help("WebSockets closed because the bytes queued toward them passed the cap")
             .Register(*registry_)
             .Add({});
    auto& reloads = BuildCounter()
                        .Name("sluice_config_reloads_total")
                        .Help("Config reloads (SIGHUP) by result")
                        .Register(*registry_);
    reloads_ok_ = &reloads.Add({{"result", "ok"}});
    reloads_failed_ = &reloads.Add({{"result", "refused"}});
}

registry::~registry() = default;

namespace {

// The lookup key of a series, built in a buffer kept per thread: requests and
// publishes look their series up without allocating.
template <typename... Parts>
const std::string& series_key(const Parts&... parts) {
    thread_local std::string key;
    key.clear();
    ((key.append(parts), key.push_back('\n')), ...);
    return key;
}

std::string_view decimal(unsigned n, char (&buf)[12]) {
    auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    return {buf, static_cast<std::size_t>(end - buf)};
}

}  // namespace

void registry::observe_request(std::string_view route, std::string_view method, unsigned status,
                               double seconds) {
    char buf[12];
    auto st = decimal(status, buf);
    const auto& key = series_key(route, method, st);
    request_series s;
    {
        std::lock_guard lock(series_mutex_);
        auto it = series_.find(key);
        if (it == series_.end()) {
            std::string r(route), m(method);
            s.count = &requests_->Add({{"route", r}, {"method", m}, {"status", std::string(st)}});
            s.duration = &request_duration_->Add({{"route", r}}, latency_buckets());
            series_.emplace(key, s);
        } else {
            s = it->second;
        }
    }
    s.count->Increment();
    s.duration->Observe(seconds);
}

void registry::count_publish(std::string_view type, unsigned version, std::string_view result,
                             std::size_t events) {
    char buf[12];
    auto v = version ? decimal(version, buf) : std::string_view();
    const auto& key = series_key(type, v, result);
    prometheus::Counter* c;
    {
        std::lock_guard lock(series_mutex_);
        auto it = publish_series_.find(key);
        if (it == publish_series_.end()) {
            c = &publishes_->Add({{"type", std::string(type)},
                                  {"version", std::string(v)},
                                  {"result", std::string(result)}});
            publish_series_.emplace(key, c);
        } else {
            c = it->second;
        }
    }
    c->Increment(static_cast<double>(events));
}

void registry::set_retention_blocked(const std::string& type, const std::string& group,
                                     bool blocked) {
    retention_blocked_->Add({{"type", type}, {"group", group}}).Set(blocked ? 1 : 0);
}

delivery_series& registry::delivery(const std::string& type, const std::string& group) {
    std::lock_guard lock(delivery_mutex_);
    std::string key = type + '\n' + group;
    if (auto it = delivery_series_.find(key); it != delivery_series_.end()) return *it->second;
    std::string label = group;
    if (delivery_series_.size() >= 1000) {
        label = "_other";
        key = type + "\n_other";
        if (auto it = delivery_series_.find(key); it != delivery_series_.end()) return *it->second;
    }
    auto s = std::make_unique<delivery_series>();
    auto add = [&](const char* event) {
        return &deliveries_->Add({{"type", type}, {"group", label}, {"event", event}});
    };
    s->delivered = add("delivered");
    s->redelivered = add("redelivered");
    s->acked = add("acked");
    s->nacked = add("nacked");
    s->dead_lettered = add("dead_lettered");
    return *delivery_series_.emplace(key, std::move(s)).first->second;
}

void registry::observe_delivery_latency(double seconds) {
    delivery_latency_->Observe(seconds);
}

void registry::websocket_opened() {
    websockets_->Increment();
}
void registry::websocket_closed() {
    websockets_->Decrement();
}
void registry::count_websocket_overflow() {
    websocket_overflows_->Increment();
}
void registry::subscriptions_changed(int delta) {
    subscriptions_->Increment(delta);
}

void registry::set_group_backlog(const std::string& type, const std::string& group,
                                 long long pending, long long lag) {
    {
        // Groups are named by clients: past 1000 series, new groups are not shown.
        std::lock_guard lock(delivery_mutex_);
        auto key = type + '\n' + group;
        if (!backlog_series_.count(key)) {
            if (backlog_series_.size() >= 1000) return;
            backlog_series_.insert(std::move(key));
        }
    }
    group_pending_->Add({{"type", type}, {"group", group}}).Set(static_cast<double>(pending));
    group_lag_->Add({{"type", type}, {"group", group}}).Set(static_cast<double>(lag));
}

void registry::observe_publish(double seconds, std::size_t events) {
    publish_latency_->Observe(seconds);
    publish_batch_size_->Observe(static_cast<double>(events));
}

void registry::connection_opened() {
    open_connections_->Increment();
    connections_total_->Increment();
}
void registry::connection_closed() {
    open_connections_->Decrement();
}
void registry::count_connection_refused(std::string_view reason) {
    connections_refused_->Add({{"reason", std::string(reason)}}).Increment();
}
void registry::count_first_byte_timeout() {
    first_byte_timeouts_->Increment();
}
void registry::count_rate_limited(std::string_view what) {
    auto i = what == "publish" ? 0 : what == "connection" ? 1 : 2;
    rate_limited_[static_cast<std::size_t>(i)]->Increment();
}

void registry::count_tls_handshake_failure(std::string_view why) {
    tls_handshake_failures_[why == "timeout" ? 0 : 1]->Increment();
}
void registry::set_tls_certificate_expiry(double unix_seconds) {
    tls_expiry_->Add({}).Set(unix_seconds);
}

void registry::count_limit(limit l) {
    limits_reached_[static_cast<std::size_t>(l)]->Increment();
}

std::string_view limit_name(limit l) {
    switch (l) {
        case limit::http_idle_timeout:
            return "http.idle_timeout";
        case limit::http_write_timeout:
            return "http.write_timeout";
        case limit::publish_max_batch:
            return "publish.max_batch";
        case limit::publish_max_violations:
            return "publish.max_violations";
        case limit::publish_max_answer_bytes:
            return "publish.max_answer_bytes";
        case limit::websocket_max_message_bytes:
            return "websocket.max_message_bytes";
        case limit::websocket_max_subscriptions:
            return "websocket.max_subscriptions";
        case limit::websocket_send_timeout:
            return "websocket.send_timeout";
        case limit::websocket_ping_interval:
            return "websocket.ping_interval";
        case limit::page_bytes:
            return "page_bytes";
        case limit::listed_groups:
            return "listed_groups";
    }
    return "unknown";
}
void registry::count_task_restart(std::string_view task) {
    task_restarts_->Add({{"task", std::string(task)}}).Increment();
}

void registry::count_internal_error(std::string_view where) {
    internal_errors_->Add({{"where", std::string(where)}}).Increment();
}
redis_client_metrics registry::redis_client(const std::string& role) {
    redis_client_metrics m;
    m.up_ = &redis_up_->Add({{"client", role}});
    m.reconnects_ = &redis_reconnects_->Add({{"client", role}});
    m.rtt_ = &redis_rtt_->Add({{"client", role}}, latency_buckets());
    m.pending_ = &redis_pending_->Add({{"client", role}});
    m.replies_too_large_ = &redis_replies_too_large_->Add({{"client", role}});
    return m;
}

void redis_client_metrics::set_up(bool up) const {
    if (up_) up_->Set(up ? 1 : 0);
}
void redis_client_metrics::count_reconnect() const {
    if (reconnects_) reconnects_->Increment();
}
void redis_client_metrics::observe_rtt(double seconds) const {
    if (rtt_) rtt_->Observe(seconds);
}
void redis_client_metrics::set_pending(std::size_t requests) const {
    if (pending_) pending_->Set(static_cast<double>(requests));
}
void redis_client_metrics::count_reply_too_large() const {
    if (replies_too_large_) replies_too_large_->Increment();
}

void registry::count_reload(bool ok) {
    (ok ? reloads_ok_ : reloads_failed_)->Increment();
}

std::string registry::serialize() const {
    prometheus::TextSerializer serializer;
    return serializer.Serialize(registry_->Collect());
}

}  // namespace sluice::metrics
