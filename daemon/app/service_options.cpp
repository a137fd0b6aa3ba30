#include "app/service_options.hpp"

namespace sluice::app {

http::server_options to_server_options(const config::settings& s) {
    http::server_options o;
    o.plain = s.listen.enabled;
    o.address = s.listen.address;
    o.port = s.listen.port;
    o.threads = s.threads;
    o.admin = s.admin_listen.enabled;
    o.admin_address = s.admin_listen.address;
    o.admin_port = s.admin_listen.port;
    o.tls = s.tls_listen.enabled;
    o.tls_address = s.tls_listen.address;
    o.tls_port = s.tls_listen.port;
    return o;
}

http::limits to_limits(const config::settings::http_settings& h) {
    http::limits l;
    l.max_body_bytes = h.max_body_bytes;
    l.max_header_bytes = h.max_header_bytes;
    l.idle_timeout = h.idle_timeout;
    l.first_byte_timeout = h.first_byte_timeout;
    l.read_timeout = h.read_timeout;
    l.write_timeout = h.write_timeout;
    l.max_connections = h.max_connections;
    l.max_connections_per_client = h.max_connections_per_client;
    l.access_log = h.access_log;
    return l;
}

publish::publish_options to_publish_options(const config::settings& s) {
    const auto& p = s.publish;
    publish::publish_options o;
    o.source = p.source;
    o.idempotency_window = p.idempotency_window;
    o.max_batch = p.max_batch;
    o.max_violations = p.max_violations;
    o.max_answer_bytes = p.max_answer_bytes;
    o.evaluation.regex_match_limit = s.schemas.regex_match_limit;
    o.evaluation.regex_depth_limit = s.schemas.regex_depth_limit;
    o.evaluation.max_steps = s.schemas.max_evaluation_steps;
    return o;
}

deliver::websocket_limits to_websocket_limits(const config::settings::websocket_settings& w) {
    deliver::websocket_limits l;
    l.max_message_bytes = w.max_message_bytes;
    l.max_subscriptions = w.max_subscriptions;
    l.send_timeout = w.send_timeout;
    l.ping_interval = w.ping_interval;
    l.max_queued_bytes = w.max_queued_bytes;
    return l;
}

streams::page_limits to_page_limits(const config::settings& s) {
    streams::page_limits l;
    l.max_reply_bytes = s.redis.max_reply_bytes;
    l.max_entry_bytes = s.http.max_body_bytes + s.http.max_header_bytes + 4096;
    return l;
}

}  // namespace sluice::app
