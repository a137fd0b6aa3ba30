#include "app/broker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <deque>
#include <optional>
#include <thread>

#include "app/config_watch.hpp"
#include "app/endpoints.hpp"
#include "app/readiness.hpp"
#include "app/redis_options.hpp"
#include "app/systemd_notify.hpp"
#include "catalog/schema_catalog.hpp"
#include "deliver/hub.hpp"
#include "http/server.hpp"
#include "http/service.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/report_failure.hpp"
#include "net/run_loop.hpp"
#include "publish/publisher.hpp"
#include "publish/retention.hpp"
#include "redis/client.hpp"
#include "streams/endpoints.hpp"
#include "streams/group_stats.hpp"

namespace sluice::app {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

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

// What bounds a page's Redis replies: the reply cap, and the largest entry a publish
// can store under the limits the broker started with (body, binary-mode headers, and
// what Sluice adds). Pages fall back to smaller steps for larger entries (stored under
// larger limits before a reload).
streams::page_limits to_page_limits(const config::settings& s) {
    streams::page_limits l;
    l.max_reply_bytes = s.redis.max_reply_bytes;
    l.max_entry_bytes = s.http.max_body_bytes + s.http.max_header_bytes + 4096;
    return l;
}

// Everything that lives while the daemon runs, wired together.
struct running {
    config::settings settings;
    const std::string& config_path;
    const config::env_lookup& env;
    systemd_notifier systemd;  // Type=notify; disabled without $NOTIFY_SOCKET
    net::io_context ctx{1};
    metrics::registry metrics;
    redis::client redis;
    readiness ready;
    std::shared_ptr<http::service> api = std::make_shared<http::service>();
    publish::publisher publisher;
    publish::retention_trimmer trimmer;
    streams::group_stats group_stats;
    http::server server;
    net::signal_set signals{ctx, SIGINT, SIGTERM, SIGHUP};
    net::steady_timer drain_timer{ctx};      // the drain's waits; cancelled by finish()
    net::steady_timer readiness_timer{ctx};  // polls readiness for systemd
    net::steady_timer watchdog_timer{ctx};
    net::steady_timer watch_timer{ctx};  // reload.watch_interval
    // Per I/O thread: the last watchdog tick it ran (see watchdog()).
    std::deque<std::atomic<std::uint64_t>> io_heartbeats;
    std::vector<net::execution_context*> io_contexts;
    std::vector<std::unique_ptr<redis::client>> io_clients;  // one per I/O thread, same order
    std::vector<std::unique_ptr<deliver::hub>> hubs;         // one per I/O thread, same order
    bool draining = false;
    bool finished = false;
    bool reloading = false;     // a reload thread is at work (control thread only)
    std::thread reload_thread;  // joined before the next reload and at stop

    running(config::settings s, const std::string& path, const config::env_lookup& e)
        : settings(std::move(s))
        , config_path(path)
        , env(e)
        , systemd(systemd_notifier::from_environment(e))
        , redis(ctx.get_executor(), to_client_options(settings.redis, "main"), &metrics)
        , ready(redis)
        , publisher(
              [this](const net::any_io_executor& ex) -> redis::client& { return client_for(ex); },
              [this] { return ready.catalog(); }, metrics, to_publish_options(settings))
        , trimmer(
              redis, [this] { return ready.catalog(); }, &metrics)
        , group_stats(
              redis, [this] { return ready.catalog(); }, metrics, settings.redis.max_reply_bytes)
        , server({settings.listen.address, settings.listen.port, settings.threads}, api, metrics,
                 to_limits(settings.http)) {
        // One Redis client per I/O thread, on that thread: a publish never leaves it.
        // Likewise one delivery hub, reading for consumer groups as its own consumer.
        std::size_t n = 0;
        auto consumer = deliver::process_consumer_name();
        for (const auto& ex : server.executors()) {
            io_contexts.push_back(&net::query(ex, net::execution::context));
            io_clients.push_back(std::make_unique<redis::client>(
                ex, to_client_options(settings.redis, "io-" + std::to_string(n++)), &metrics));
            ready.add_client(*io_clients.back());
            hubs.push_back(std::make_unique<deliver::hub>(
                ex, *io_clients.back(), to_client_options(settings.redis, "deliver"),
                consumer + "-" + std::to_string(n - 1), [this] { return ready.catalog(); }, metrics,
                to_websocket_limits(settings.websocket)));
        }
        server.set_upgrade_handler("/v1/ws", [this](net::ip::tcp::socket& socket, http::request req,
                                                    std::string leftover) {
            return hub_for(socket.get_executor())
                .serve(socket, std::move(req), std::move(leftover));
        });
    }

    // The index of the I/O thread running `ex`, or none (the control thread).
    std::optional<std::size_t> io_thread_of(const net::any_io_executor& ex) const {
        auto* context = &net::query(ex, net::execution::context);
        for (std::size_t i = 0; i < io_contexts.size(); ++i)
            if (io_contexts[i] == context) return i;
        return std::nullopt;
    }

    // The delivery hub of the I/O thread running `ex`.
    deliver::hub& hub_for(const net::any_io_executor& ex) {
        return *hubs[io_thread_of(ex).value_or(0)];
    }

    // The Redis client of the I/O thread running `ex`; the control thread's otherwise.
    redis::client& client_for(const net::any_io_executor& ex) {
        auto i = io_thread_of(ex);
        return i ? *io_clients[*i] : redis;
    }

    ~running() {
        if (reload_thread.joinable()) reload_thread.join();
    }

    // SIGHUP: read the config and schemas again; apply them only if both are good.
    // Reading and compiling the schemas happens on a thread of its own: the control
    // thread also runs the Redis client, which must not stall behind a big compile.
    // Only the result is applied on the control thread.
    void reload() {
        if (reloading) {
            log::warn("SIGHUP while a reload is running; ignored", {{"config", config_path}});
            return;
        }
        reloading = true;
        auto now = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now().time_since_epoch());  // CLOCK_MONOTONIC on Linux
        systemd.send(notify_message::reloading(now, "reloading " + config_path));
        if (reload_thread.joinable()) reload_thread.join();
        reload_thread = std::thread([this] {
            auto next = std::make_shared<config::settings>();
            std::shared_ptr<const catalog::schema_catalog> next_catalog;
            std::string failure;
            try {
                *next = config::load_file(config_path, env);
                next_catalog = std::make_shared<const catalog::schema_catalog>(
                    catalog::load_catalog(next->schemas.dir, next->types, next->type_defaults));
            } catch (const std::exception& e) {
                failure = e.what();
            }
            net::post(ctx, [this, next, next_catalog, failure] {
                reloading = false;
                if (!failure.empty()) {
                    metrics.count_reload(false);
                    log::error("config reload refused; the running config stays",
                               {{"error", failure}});
                    systemd.send(
                        notify_message::ready("reload refused, the old config serves: " + failure));
                    return;
                }
                apply(*next, next_catalog);
                systemd.send(notify_message::ready(ready_status()));
            });
        });
    }

    void apply(const config::settings& next,
               const std::shared_ptr<const catalog::schema_catalog>& next_catalog) {
        if (next.listen.address != settings.listen.address ||
            next.listen.port != settings.listen.port || next.threads != settings.threads)
            log::warn("listen address and threads change only on restart",
                      {{"config", config_path}});
        if (next.redis.url != settings.redis.url ||
            next.redis.endpoint.password != settings.redis.endpoint.password ||
            next.redis.endpoint.username != settings.redis.endpoint.username ||
            next.redis.endpoint.db != settings.redis.endpoint.db)
            log::warn("redis settings change only on restart", {{"config", config_path}});
        log::configure(next.log.level, next.log.format);
        server.set_limits(to_limits(next.http));
        for (auto& h : hubs) h->set_limits(to_websocket_limits(next.websocket));
        publisher.set_options(to_publish_options(next));
        ready.set_catalog(next_catalog);
        settings.http = next.http;
        settings.websocket = next.websocket;
        settings.log = next.log;
        settings.schemas = next.schemas;
        settings.publish = next.publish;
        settings.reload = next.reload;
        settings.types = next.types;
        settings.type_defaults = next.type_defaults;
        metrics.count_reload(true);
        log::info("config reloaded", {{"config", config_path},
                                      {"types", next_catalog->types.size()},
                                      {"versions", next_catalog->version_count()}});
    }

    // SIGTERM/SIGINT, in three steps:
    // 1. /readyz turns 503 at once, but for `delay` (shutdown.drain_delay) new
    //    connections are still accepted and served: load balancers that poll /readyz,
    //    or endpoint lists being updated, stop sending before the door closes.
    // 2. The listener closes, idle keep-alive connections close, in-flight requests
    //    finish and go out with `Connection: close`; WebSockets get 1001 and their
    //    unacked events are released in Redis for other members.
    // 3. Once no connection is left, one PING round trip on every I/O thread's Redis
    //    client: acks and releases queued by the closing sockets are in Redis before
    //    the clients stop. After `grace_period` (counted from step 2), whatever is
    //    left is cut.
    net::awaitable<void> drain(std::chrono::milliseconds delay) {
        auto grace = settings.shutdown.grace_period;
        log::info("draining", {{"drain_delay_ms", delay.count()},
                               {"grace_period_ms", grace.count()},
                               {"open_connections", server.open_connections()}});
        ready.set_draining();
        systemd.send(notify_message::stopping("draining: /readyz is 503, closing in " +
                                              std::to_string(delay.count()) + " ms"));
        if (delay.count() > 0) {
            drain_timer.expires_after(delay);
            co_await drain_timer.async_wait(use_tuple);
            if (finished) co_return;
        }
        log::info("closing the listener", {{"open_connections", server.open_connections()}});
        server.drain();
        for (auto& h : hubs) h->drain();
        auto deadline = std::chrono::steady_clock::now() + grace;
        while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
            drain_timer.expires_after(std::chrono::milliseconds(20));
            co_await drain_timer.async_wait(use_tuple);
            if (finished) co_return;
        }
        auto flushed = std::make_shared<std::atomic<std::size_t>>(0);
        for (std::size_t i = 0; i < io_clients.size(); ++i)
            net::post(server.executors()[i], [c = io_clients[i].get(), flushed] {
                c->async_exec(redis::command("PING"),
                              [flushed](boost::system::error_code, redis::reply) { ++*flushed; });
            });
        while (*flushed < io_clients.size() && std::chrono::steady_clock::now() < deadline) {
            drain_timer.expires_after(std::chrono::milliseconds(5));
            co_await drain_timer.async_wait(use_tuple);
            if (finished) co_return;
        }
        finish();
    }

    // Redis first: its failed requests are posted to the HTTP threads, which still
    // run and answer them; then the server and this loop stop. Runs once.
    void finish() {
        if (finished) return;
        finished = true;
        drain_timer.cancel();
        readiness_timer.cancel();
        watchdog_timer.cancel();
        watch_timer.cancel();
        auto left = server.open_connections();
        if (left > 0)
            log::warn("grace period over; closing connections", {{"open_connections", left}});
        trimmer.stop();
        group_stats.stop();
        for (auto& h : hubs) h->stop();
        redis.stop();
        for (auto& c : io_clients) c->stop();
        signals.cancel();
        net::post(ctx, [this] {
            server.stop();
            if (reload_thread.joinable()) reload_thread.join();
            ctx.stop();
        });
    }

    // What systemd shows in `systemctl status` while the broker serves.
    std::string ready_status() const {
        auto c = ready.catalog();
        return "ready: " + settings.listen.address + ":" + std::to_string(server.port()) + ", " +
               std::to_string(c ? c->types.size() : 0) + " event types, Redis " +
               settings.redis.endpoint.display();
    }

    // Type=notify: READY=1 the first time /readyz would answer 200 (Redis answers on
    // every client, schemas loaded), then STATUS= whenever readiness changes. Polls:
    // readiness is a handful of atomics, and 100 ms is well inside any start timeout.
    net::awaitable<void> notify_readiness() {
        bool sent_ready = false;
        std::string last;
        while (!draining) {
            auto reasons = ready.reasons_not_ready();
            if (reasons.empty() && !sent_ready) {
                sent_ready = true;
                last = ready_status();
                systemd.send(notify_message::ready(last));
                log::info("ready; told systemd");
            } else {
                std::string now = reasons.empty() ? ready_status() : "not ready: " + reasons[0];
                if (now != last) systemd.send(notify_message::status(now));
                last = now;
            }
            readiness_timer.expires_after(std::chrono::milliseconds(sent_ready ? 1000 : 100));
            auto [ec] = co_await readiness_timer.async_wait(use_tuple);
            if (ec || finished) co_return;
        }
    }

    // WATCHDOG=1 at half of WatchdogSec while this loop runs, and only while every I/O
    // thread also runs: each tick posts a heartbeat to every I/O thread, and the next
    // tick pings systemd only if all of them ran it. A stuck I/O thread thus gets the
    // service restarted by systemd, not just a stuck control thread.
    net::awaitable<void> watchdog(std::chrono::microseconds period) {
        for (std::size_t i = 0; i < io_contexts.size(); ++i) io_heartbeats.emplace_back(0);
        auto executors = server.executors();
        bool warned = false;
        for (std::uint64_t tick = 0;; ++tick) {
            std::size_t behind = 0;
            for (auto& h : io_heartbeats)
                if (h.load() != tick) ++behind;
            if (behind == 0) {
                systemd.send(notify_message::watchdog);
                warned = false;
            } else if (!warned) {
                warned = true;
                log::warn("I/O threads did not run within a watchdog tick; not pinging systemd",
                          {{"threads_behind", behind}, {"tick_us", period.count()}});
            }
            for (std::size_t i = 0; i < executors.size(); ++i)
                net::post(executors[i],
                          [h = &io_heartbeats[i], next = tick + 1] { h->store(next); });
            watchdog_timer.expires_after(period);
            auto [ec] = co_await watchdog_timer.async_wait(use_tuple);
            if (ec || finished) co_return;
        }
    }

    // reload.watch_interval: reload, as on SIGHUP, when the config file or a schema
    // file changed. For ConfigMap volumes, which kubelet updates in place while the
    // pod runs and nobody is there to send SIGHUP. Stat calls only; 0 turns it off.
    net::awaitable<void> watch_files() {
        auto last = files_fingerprint(config_path, settings.schemas.dir);
        while (!finished && !draining) {
            auto every = std::chrono::milliseconds(settings.reload.watch_interval);
            watch_timer.expires_after(every.count() > 0 ? every : std::chrono::seconds(1));
            auto [ec] = co_await watch_timer.async_wait(use_tuple);
            if (ec || finished || draining) co_return;
            if (every.count() == 0 || reloading) continue;
            auto now = files_fingerprint(config_path, settings.schemas.dir);
            if (now == last) continue;
            last = std::move(now);
            log::info("config or schema files changed; reloading", {{"config", config_path}});
            reload();
        }
    }

    net::awaitable<void> handle_signals() {
        for (;;) {
            auto [ec, sig] = co_await signals.async_wait(use_tuple);
            if (ec) co_return;
            if (sig == SIGHUP) {
                log::info("SIGHUP: reloading config", {{"config", config_path}});
                reload();
                continue;
            }
            if (draining) {
                log::warn("second stop signal: stopping now");
                finish();
                co_return;
            }
            draining = true;
            // Ctrl-C at a terminal has no load balancer to wait for.
            auto delay = sig == SIGINT ? std::chrono::milliseconds(0)
                                       : std::chrono::milliseconds(settings.shutdown.drain_delay);
            net::co_spawn(ctx, drain(delay), sluice::net::report_failure("drain"));
        }
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
    r.ready.set_catalog(schemas);
    add_operational_endpoints(*r.api, r.ready, r.metrics);
    r.api->route("POST", "/v1/events",
                 [&r](const http::request_context& ctx) { return r.publisher.handle(ctx); });
    r.api->route(
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
    streams::add_stream_endpoints(
        *r.api, [&r](const net::any_io_executor& ex) -> redis::client& { return r.client_for(ex); },
        [&r] { return r.ready.catalog(); }, to_page_limits(settings_));
    for (auto& c : r.io_clients) c->start();  // they connect as soon as the I/O threads run
    try {
        r.server.start();
    } catch (const std::system_error& e) {
        log::error("cannot start the HTTP listener", {{"error", e.what()}});
        return 1;
    }
    log::info("listening", {{"address", settings_.listen.address},
                            {"port", r.server.port()},
                            {"threads", settings_.threads},
                            {"redis", settings_.redis.endpoint.display()},
                            {"types", schemas->types.size()},
                            {"versions", schemas->version_count()}});
    r.redis.start();
    r.trimmer.start(r.ctx.get_executor());
    r.group_stats.start(r.ctx.get_executor());
    net::co_spawn(r.ctx, r.handle_signals(), sluice::net::report_failure("signal handler"));
    net::co_spawn(r.ctx, r.watch_files(), sluice::net::report_failure("config watch"));
    if (r.systemd.is_enabled()) {
        net::co_spawn(r.ctx, r.notify_readiness(), sluice::net::report_failure("systemd notify"));
        if (auto period = r.systemd.watchdog_period())
            net::co_spawn(r.ctx, r.watchdog(*period),
                          sluice::net::report_failure("systemd watchdog"));
    }
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
