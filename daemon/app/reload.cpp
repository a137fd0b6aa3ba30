#include "app/reload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/config_watch.hpp"
#include "app/service_options.hpp"
#include "app/systemd_reporter.hpp"
#include "app/worker.hpp"
#include "catalog/holder.hpp"
#include "http/server.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "net/tls_server.hpp"
#include "publish/publisher.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The files besides the config and the schemas that a reload reads again.
std::vector<std::string> watched_files(const config::settings& s) {
    std::vector<std::string> out;
    if (s.tls_listen.enabled) out = sluice::net::tls_files(s.tls_listen.certificate);
    if (s.auth.enabled && s.auth.jwt_enabled) {
        for (const auto* list : {&s.auth.jwt.hmac_secrets, &s.auth.jwt.public_keys})
            for (const auto& f : *list) out.push_back(f.path);
        if (!s.auth.jwt.jwks_file.empty()) out.push_back(s.auth.jwt.jwks_file);
    }
    return out;
}

}  // namespace

reloader::reloader(net::io_context& control, std::string config_path, config::env_lookup env,
                   targets t)
    : control_(control)
    , config_path_(std::move(config_path))
    , env_(std::move(env))
    , to_(t)
    , watch_timer_(control) {}

reloader::~reloader() {
    join();
}

void reloader::join() {
    if (read_thread_.joinable()) read_thread_.join();
}

void reloader::reload() {
    if (reloading_) {
        log::warn("SIGHUP while a reload is running; ignored", {{"config", config_path_}});
        return;
    }
    reloading_ = true;
    to_.systemd.reloading(config_path_);
    join();
    read_thread_ = std::thread([this] {
        auto next = std::make_shared<config::settings>();
        std::shared_ptr<const catalog::schema_catalog> next_catalog;
        std::shared_ptr<sluice::net::tls_server_context> next_tls;
        std::string failure;
        try {
            *next = config::load_file(config_path_, env_);
            next_catalog = std::make_shared<const catalog::schema_catalog>(
                catalog::load_catalog(next->schemas.dir, next->types, next->type_defaults));
            if (next->tls_listen.enabled)
                next_tls = sluice::net::load_tls_server_context(next->tls_listen.certificate);
        } catch (const std::exception& e) {
            failure = e.what();
        }
        net::post(control_, [this, next, next_catalog, next_tls, failure] {
            reloading_ = false;
            if (!failure.empty()) {
                to_.metrics.count_reload(false);
                log::error("config reload refused; the running config stays", {{"error", failure}});
                to_.systemd.reload_refused(failure);
                return;
            }
            apply(*next, next_catalog, next_tls);
            to_.systemd.reloaded();
        });
    });
}

void reloader::apply(const config::settings& next,
                     const std::shared_ptr<const catalog::schema_catalog>& next_catalog,
                     const std::shared_ptr<sluice::net::tls_server_context>& next_tls) {
    auto& settings = to_.settings;
    if (next.listen.address != settings.listen.address ||
        next.listen.port != settings.listen.port ||
        next.listen.enabled != settings.listen.enabled || next.threads != settings.threads)
        log::warn("listen address and threads change only on restart", {{"config", config_path_}});
    const auto& tls = next.tls_listen;
    if (tls.enabled != settings.tls_listen.enabled || tls.address != settings.tls_listen.address ||
        tls.port != settings.tls_listen.port)
        log::warn("tls_listen's address and port change only on restart",
                  {{"config", config_path_}});
    if (settings.tls_listen.enabled && next_tls) {
        // New connections present the new certificate; open ones keep theirs.
        to_.server.set_tls_context(next_tls);
        auto expiry = sluice::net::certificate_expiry(*next_tls);
        to_.metrics.set_tls_certificate_expiry(expiry);
        settings.tls_listen.certificate = tls.certificate;
        log::info("TLS certificate loaded",
                  {{"cert_file", tls.certificate.cert_file}, {"expires_at", expiry}});
    }
    if (next.redis.url != settings.redis.url ||
        next.redis.endpoint.password != settings.redis.endpoint.password ||
        next.redis.endpoint.username != settings.redis.endpoint.username ||
        next.redis.endpoint.db != settings.redis.endpoint.db)
        log::warn("redis settings change only on restart", {{"config", config_path_}});
    log::configure(next.log.level, next.log.format);
    to_.server.set_limits(to_limits(next.http));
    for (auto& w : to_.workers) w->hub.set_limits(to_websocket_limits(next.websocket));
    to_.publisher.set_options(to_publish_options(next));
    to_.catalogs.set(next_catalog);
    to_.auth.set(std::make_shared<const auth::authenticator>(
        next.auth, next.websocket.allowed_origins, next.websocket.auth_timeout));
    settings.auth = next.auth;
    settings.http = next.http;
    settings.websocket = next.websocket;
    settings.log = next.log;
    settings.schemas = next.schemas;
    settings.publish = next.publish;
    settings.reload = next.reload;
    settings.types = next.types;
    settings.type_defaults = next.type_defaults;
    to_.metrics.count_reload(true);
    log::info("audit", {{"principal", "operator"},
                        {"action", "config.reload"},
                        {"config", config_path_},
                        {"types", next_catalog->types.size()}});
    log::info("config reloaded", {{"config", config_path_},
                                  {"types", next_catalog->types.size()},
                                  {"versions", next_catalog->version_count()}});
}

void reloader::start_watching() {
    watching_ = true;
    net::co_spawn(control_, watch_files(), sluice::net::report_failure("config watch"));
}

void reloader::stop_watching() {
    watching_ = false;
    watch_timer_.cancel();
}

// For ConfigMap volumes, which kubelet updates in place while the pod runs and nobody
// is there to send SIGHUP. Stat calls only; an interval of 0 turns it off.
net::awaitable<void> reloader::watch_files() {
    const auto& settings = to_.settings;
    auto last = files_fingerprint(config_path_, settings.schemas.dir, watched_files(settings));
    while (watching_) {
        auto every = std::chrono::milliseconds(settings.reload.watch_interval);
        watch_timer_.expires_after(every.count() > 0 ? every : std::chrono::seconds(1));
        auto [ec] = co_await watch_timer_.async_wait(use_tuple);
        if (ec || !watching_) co_return;
        if (every.count() == 0 || reloading_) continue;
        auto now = files_fingerprint(config_path_, settings.schemas.dir, watched_files(settings));
        if (now == last) continue;
        last = std::move(now);
        log::info("config or schema files changed; reloading", {{"config", config_path_}});
        reload();
    }
}

}  // namespace sluice::app
