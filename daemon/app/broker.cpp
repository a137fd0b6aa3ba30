#include "app/broker.hpp"

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "app/access.hpp"
#include "app/drain.hpp"
#include "app/endpoints.hpp"
#include "app/readiness.hpp"
#include "app/redis_options.hpp"
#include "app/reload.hpp"
#include "app/service_options.hpp"
#include "app/signals.hpp"
#include "app/systemd_reporter.hpp"
#include "app/worker.hpp"
#include "catalog/holder.hpp"
#include "catalog/schema_catalog.hpp"
#include "deliver/hub.hpp"
#include "http/server.hpp"
#include "http/service.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/run_loop.hpp"
#include "net/tls_server.hpp"
#include "publish/publisher.hpp"
#include "publish/retention.hpp"
#include "redis/client.hpp"
#include "streams/endpoints.hpp"
#include "streams/group_stats.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;

// The composition root: everything that lives while the daemon runs, made and wired
// in order. It holds no behaviour of its own: requests reach their thread's objects
// through the request context (worker), reload, drain, signals and systemd are
// objects of their own, and nothing here is asked for anything while requests run.
struct running {
    config::settings settings;
    net::io_context ctx{1};  // the control thread's
    metrics::registry metrics;
    catalog::holder catalogs;
    auth::holder auth;
    redis::client redis;  // `main`: readiness, retention, group stats
    readiness ready;
    std::shared_ptr<http::service> api = std::make_shared<http::service>();
    publish::publisher publisher;
    publish::retention_trimmer trimmer;
    streams::group_stats group_stats;
    http::server server;
    std::vector<std::unique_ptr<worker>> workers;  // one per I/O thread, in its order
    systemd_reporter systemd;
    reloader reload;
    drain_sequence drain;
    signal_handler signals;

    running(config::settings s, const std::string& config_path, const config::env_lookup& env)
        : settings(std::move(s))
        , redis(ctx.get_executor(), to_client_options(settings, "main"), &metrics)
        , ready(redis, catalogs)
        , publisher([this] { return catalogs.get(); }, metrics, to_publish_options(settings))
        , trimmer(
              redis, [this] { return catalogs.get(); }, &metrics)
        , group_stats(
              redis, [this] { return catalogs.get(); }, metrics, settings.redis.max_reply_bytes,
              settings.metrics.group_stats_interval)
        , server(to_server_options(settings), api, metrics, to_limits(settings.http))
        , workers(make_workers())
        , systemd(ctx, systemd_notifier::from_environment(env), settings, server, catalogs, ready,
                  server.executors())
        , reload(ctx, config_path, env,
                 {settings, server, workers, publisher, catalogs, metrics, systemd, auth})
        , drain(
              {ctx, settings, server, workers, ready, systemd}, [this] { stop_control_thread(); },
              [this] { reload.join(); })
        , signals(ctx, settings, reload, drain) {
        // The first client to find Redis back pokes the others out of their backoff,
        // so /readyz (which needs them all) turns 200 as soon as writes work again.
        std::vector<redis::client*> clients{&redis};
        for (auto& w : workers) clients.push_back(&w->redis);
        for (auto* c : clients)
            c->set_on_up([clients, c] {
                for (auto* other : clients)
                    if (other != c) other->poke();
            });
    }

    // One worker per I/O thread, made on that thread's executor before the server
    // starts; each thread lends its worker to the requests it serves.
    std::vector<std::unique_ptr<worker>> make_workers() {
        std::vector<std::unique_ptr<worker>> out;
        auto consumer = deliver::process_consumer_name();
        auto executors = server.executors();
        for (std::size_t i = 0; i < executors.size(); ++i) {
            out.push_back(
                std::make_unique<worker>(i, executors[i], settings, consumer, catalogs, metrics));
            ready.add_client(out.back()->redis);
            server.set_worker(i, out.back()->lent());
        }
        return out;
    }

    // The drain's last step on this thread: what runs here stops.
    void stop_control_thread() {
        systemd.stop();
        reload.stop_watching();
        trimmer.stop();
        group_stats.stop();
        redis.stop();
        signals.stop();
    }

    void add_routes(const config::settings& s) {
        auth.set(std::make_shared<const auth::authenticator>(s.auth, s.websocket.allowed_origins,
                                                             s.websocket.auth_timeout));
        if (!s.auth.enabled)
            log::warn(
                "authentication is off: anyone who reaches the port may publish, consume, "
                "replay and administer; add an auth section (docs/security.md)",
                {{"config", s.source}});
        api->set_gate([this, split = s.admin_listen.enabled](
                          const http::request& req, std::string_view pattern,
                          const http::route_params& params, const http::peer_info& from) {
            auto a = auth.get();
            auto admitted = admit(*a, req, pattern, params, from, split);
            if (!admitted.keep) admitted.keep = std::move(a);  // what `who` lives in
            return admitted;
        });
        publisher.set_rate_limit(
            [this](const http::request_context& c, std::size_t events) -> std::optional<long long> {
                if (auto wait = auth.get()->limit_publish(c.who, c.client, events))
                    return auth::retry_after_seconds(*wait);
                return std::nullopt;
            });
        server.set_connection_gate([this](std::string_view client) -> std::optional<long long> {
            if (auto wait = auth.get()->limit_connection(client))
                return auth::retry_after_seconds(*wait);
            return std::nullopt;
        });
        add_operational_endpoints(*api, ready, catalogs, metrics, auth);
        api->route("POST", "/v1/events",
                   [this](const http::request_context& c) { return publisher.handle(c); });
        api->route(
            "GET", "/v1/ws", [](const http::request_context&) -> net::awaitable<http::response> {
                http::problem p{426,
                                "upgrade_required",
                                "Upgrade required",
                                "GET /v1/ws is a WebSocket endpoint: send Connection: Upgrade and "
                                "Upgrade: websocket (see docs/protocol.md)",
                                {}};
                auto res = http::make_problem(p);
                co_return res;
            });
        server.set_upgrade_handler(
            "/v1/ws", [this](sluice::net::stream stream, http::request req, std::string leftover,
                             const http::worker_slot& lent, http::connection_lease lease) {
                auto access = websocket_access(auth, req, stream.peer_identity());
                lent.get<deliver::hub>().accept(std::move(stream), std::move(req),
                                                std::move(leftover), std::move(lease),
                                                std::move(access));
            });
        streams::add_stream_endpoints(
            *api, [this] { return catalogs.get(); }, metrics, to_page_limits(s));
    }
};

}  // namespace

broker::broker(config::settings settings, std::string config_path, config::env_lookup env)
    : settings_(std::move(settings)), config_path_(std::move(config_path)), env_(std::move(env)) {}

int broker::run() {
    std::shared_ptr<const catalog::schema_catalog> schemas;
    try {
        schemas = std::make_shared<const catalog::schema_catalog>(
            catalog::load_catalog(settings_.schemas.dir, settings_.types, settings_.type_defaults));
    } catch (const catalog::catalog_error& e) {
        log::error("cannot load schemas", {{"error", e.what()}});
        return 2;
    }

    running r(settings_, config_path_, env_);
    r.catalogs.set(schemas);
    double tls_expiry = 0;
    if (settings_.tls_listen.enabled) {
        try {
            auto tls = sluice::net::load_tls_server_context(settings_.tls_listen.certificate);
            tls_expiry = sluice::net::certificate_expiry(*tls);
            r.metrics.set_tls_certificate_expiry(tls_expiry);
            r.server.set_tls_context(std::move(tls));
        } catch (const std::exception& e) {
            log::error("cannot load the TLS certificate", {{"error", e.what()}});
            return 2;
        }
    }
    r.add_routes(settings_);
    for (auto& w : r.workers) w->redis.start();  // they connect as soon as the I/O threads run
    try {
        r.server.start();
    } catch (const std::system_error& e) {
        log::error("cannot start the HTTP listener", {{"error", e.what()}});
        return 1;
    }
    if (settings_.tls_listen.enabled)
        log::info("tls listener",
                  {{"address", settings_.tls_listen.address},
                   {"port", r.server.tls_port()},
                   {"cert_file", settings_.tls_listen.certificate.cert_file},
                   {"expires_at", tls_expiry},
                   {"client_certificates",
                    settings_.tls_listen.certificate.client_ca_file.empty()       ? "off"
                    : settings_.tls_listen.certificate.require_client_certificate ? "required"
                                                                                  : "optional"}});
    if (settings_.admin_listen.enabled)
        log::info("admin listener",
                  {{"address", settings_.admin_listen.address}, {"port", r.server.admin_port()}});
    log::info("listening",
              {{"address",
                settings_.listen.enabled ? settings_.listen.address : settings_.tls_listen.address},
               {"port", settings_.listen.enabled ? r.server.port() : r.server.tls_port()},
               {"tls", !settings_.listen.enabled},
               {"threads", settings_.threads},
               {"redis", settings_.redis.endpoint.display()},
               {"types", schemas->types.size()},
               {"versions", schemas->version_count()}});
    r.redis.start();
    r.trimmer.start(r.ctx.get_executor());
    r.group_stats.start(r.ctx.get_executor());
    r.signals.start();
    r.reload.start_watching();
    r.systemd.start();
    // The control thread runs the main Redis client, retention, group stats and the
    // signals: a defect in one of them is logged and counted, and the rest run on.
    sluice::net::run_catching(r.ctx, [&r](std::string_view what) {
        log::error("control thread handler failed; the thread serves on",
                   {{"where", "control_loop"}, {"error", what}});
        r.metrics.count_internal_error("control_loop");
    });
    log::info("stopped");
    return 0;
}

}  // namespace sluice::app
