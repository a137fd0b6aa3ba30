#include "redis/client.hpp"

#include <atomic>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <mutex>
#include <random>

#include "log/logger.hpp"
#include "metrics/registry.hpp"
#include "net/executor.hpp"
#include "net/report_failure.hpp"
#include "redis/error.hpp"
#include "redis/topology.hpp"

namespace sluice::redis {
namespace {

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

struct client::impl : std::enable_shared_from_this<client::impl> {
    // A request that arrived while there was no connection.
    struct waiting {
        request req;
        net::any_completion_handler<exec_signature> handler;
        std::chrono::milliseconds extra_time{0};
        clock_type::time_point deadline;
    };

    executor_type ex;
    client_options options;
    metrics::redis_client_metrics series;
    std::shared_ptr<connection> current;
    std::deque<waiting> parked;
    std::size_t parked_bytes = 0;
    net::steady_timer sleep;  // backoff and health-check waits; cancelled to wake early
    std::atomic<bool> up{false};
    std::atomic<bool> stopping{false};
    bool checking = false;     // in the health-check loop of a live connection
    bool backing_off = false;  // napping before the next connect attempt
    std::function<void()> on_up;
    // Where the node is, for logs: the endpoint, or (Sentinel) the master found.
    std::string where;
    std::size_t next_sentinel = 0;  // the sentinel to ask first: the one that answered last
    bool role_allowed = true;       // ROLE answers (an ACL may forbid it: then PING)
    mutable std::mutex status_mutex;
    std::string status_text = "not connected yet";

    impl(executor_type e, client_options o, metrics::registry* m)
        : ex(std::move(e)), options(std::move(o)), sleep(ex) {
        where = options.connection.endpoint.display();
        if (m) series = m->redis_client(options.role);
        // Chained, not replaced: the caller's own callback still runs.
        options.connection.on_reply_too_large = [s = series,
                                                 next = options.connection.on_reply_too_large] {
            s.count_reply_too_large();
            if (next) next();
        };
    }

    bool connected() const { return current && current->is_open(); }

    void set_state(bool now_up, std::string why) {
        bool was = up.exchange(now_up);
        {
            std::lock_guard lock(status_mutex);
            status_text = std::move(why);
        }
        series.set_up(now_up);
        if (now_up && !was) {
            log::info("redis is up", {{"client", options.role}, {"redis", where}});
            if (on_up) on_up();
        }
        if (!now_up && was) {
            std::lock_guard lock(status_mutex);
            log::warn("redis is down",
                      {{"client", options.role}, {"redis", where}, {"reason", status_text}});
        }
    }

    void fail(net::any_completion_handler<exec_signature> h, error e) {
        net::post(ex, net::append(std::move(h), make_error_code(e), reply{}));
    }

    // On the executor: send, park or refuse one request.
    void exec(request req, net::any_completion_handler<exec_signature> h,
              std::chrono::milliseconds extra) {
        if (stopping) return fail(std::move(h), error::closed);
        if (connected()) {
            if (!options.connection.endpoint.is_sentinel()) {
                current->async_exec(std::move(req), std::move(h), extra);
                return;
            }
            // Sentinel: a master demoted under us answers READONLY; give up that
            // connection at once and ask the sentinels again, rather than wait for the
            // next health check. (This request is answered with the error: not stored.)
            current->async_exec(
                std::move(req),
                [h = std::move(h), weak = weak_from_this(),
                 conn = std::weak_ptr<connection>(current)](error_code ec, reply r) mutable {
                    if ((!ec || ec == error::not_replicated) && says_readonly(r))
                        if (auto me = weak.lock())
                            if (auto c = conn.lock(); c && c == me->current) {
                                me->set_state(false, me->where +
                                                         " answered READONLY: it is a "
                                                         "replica now");
                                c->close();
                            }
                    std::move(h)(ec, std::move(r));
                },
                extra);
            return;
        }
        // The connection died between health checks: reconnect now, not at the next tick.
        sleep.cancel();
        if (options.wait_when_disconnected.count() == 0)
            return fail(std::move(h), error::not_connected);
        const auto& caps = options.connection;
        if (parked.size() >= caps.max_pending_requests ||
            parked_bytes + req.wire().size() > caps.max_pending_bytes)
            return fail(std::move(h), error::overloaded);
        parked_bytes += req.wire().size();
        parked.push_back({std::move(req), std::move(h), extra,
                          clock_type::now() + options.wait_when_disconnected});
        series.set_pending(parked.size());
    }

    // Hands parked requests to the new connection, in arrival order.
    void flush_parked() {
        while (!parked.empty() && connected()) {
            auto w = std::move(parked.front());
            parked.pop_front();
            parked_bytes -= std::min(parked_bytes, w.req.wire().size());
            current->async_exec(std::move(w.req), std::move(w.handler), w.extra_time);
        }
    }

    // Fails parked requests whose wait is over (all of them with `everyone`).
    void expire_parked(bool everyone, error why) {
        auto now = clock_type::now();
        while (!parked.empty() && (everyone || parked.front().deadline <= now)) {
            parked_bytes -= std::min(parked_bytes, parked.front().req.wire().size());
            fail(std::move(parked.front().handler), why);
            parked.pop_front();
        }
    }

    static bool says_readonly(const reply& r) {
        auto readonly = [](const reply& x) {
            return x.is_error() && std::string_view(x.str).starts_with("READONLY");
        };
        if (readonly(r)) return true;
        for (const auto& e : r.elements)
            if (readonly(e)) return true;
        return false;
    }

    // Sentinel: where the master is now, asking the sentinels in turn (the one that
    // answered last first). Nothing, and `why`, when none could say.
    net::awaitable<std::optional<node_address>> discover(std::string& why) {
        const auto& ep = options.connection.endpoint;
        std::string reasons;
        for (std::size_t i = 0; i < ep.sentinels.size() && !stopping; ++i) {
            auto at = (next_sentinel + i) % ep.sentinels.size();
            const auto& sentinel = ep.sentinels[at];
            auto o = options.connection;
            o.endpoint = sentinel_endpoint(ep, sentinel);
            auto conn = std::make_shared<connection>(ex, o);
            std::string detail;
            auto ec = co_await conn->connect(detail);
            if (!ec) {
                auto [xec, r] = co_await conn->async_exec(
                    command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", ep.master_name), use_tuple);
                conn->close();
                if (!xec && !r.is_error()) {
                    if (auto m = master_address_of(r)) {
                        next_sentinel = at;
                        co_return m;
                    }
                    detail = "knows no master named '" + ep.master_name + "'";
                } else {
                    detail = xec ? xec.message() : r.str;
                }
            }
            if (!reasons.empty()) reasons += "; ";
            reasons += sentinel.display() + ": " + detail;
        }
        why = "no sentinel names the master '" + ep.master_name + "' (" + reasons + ")";
        co_return std::nullopt;
    }

    // After connecting, and at each health check: the node must be a master, or
    // writes would fail (a replica answers READONLY). Empty when it is (or cannot
    // tell: an ACL that forbids ROLE falls back to PING), else why not, or why the
    // check itself failed.
    net::awaitable<std::string> check_role() {
        if (role_allowed) {
            auto [ec, r] = co_await current->async_exec(command("ROLE"), use_tuple);
            if (ec) co_return ec.message();
            if (!r.is_error()) {
                auto role = role_of(r);
                if (role == node_role::master) co_return std::string();
                co_return where + " is " +
                    (role == node_role::replica ? "a replica (read-only)" : "not a master") +
                    (options.connection.endpoint.is_sentinel() ? ": asking the sentinels again"
                                                               : ": writes would fail");
            }
            // An ACL without ROLE, or a server without it: PING alone from now on.
            // Any other error (BUSY, LOADING) is "not now": not ready, ask again.
            bool forbidden = std::string_view(r.str).starts_with("NOPERM") ||
                             std::string_view(r.str).starts_with("ERR unknown command");
            if (!forbidden) co_return where + " answered ROLE with " + r.str;
            role_allowed = false;
            log::info("redis: ROLE is not allowed; health checks use PING",
                      {{"client", options.role}, {"reply", r.str}});
        }
        auto [ec, r] = co_await current->async_exec(command("PING"), use_tuple);
        if (ec || r.is_error()) co_return ec ? ec.message() : "PING refused: " + r.str;
        co_return std::string();
    }

    net::awaitable<void> nap(std::chrono::milliseconds d) {
        sleep.expires_after(d);
        co_await sleep.async_wait(use_tuple);
    }

    // Parked requests must not outlive their wait even while connects keep failing.
    net::awaitable<void> expire_loop() {
        auto self = shared_from_this();
        net::steady_timer tick(ex);
        auto period = std::max(std::chrono::milliseconds(5), options.wait_when_disconnected / 4);
        while (!stopping) {
            tick.expires_after(period);
            co_await tick.async_wait(use_tuple);
            expire_parked(false, error::not_connected);
            series.set_pending(parked.size() + (current ? current->pending() : 0));
        }
    }

    net::awaitable<void> run() {
        auto self = shared_from_this();
        std::mt19937 rng{std::random_device{}()};
        auto backoff = options.reconnect_min;
        bool ever_up = false, logged_failure = false, failed = false;
        while (!stopping) {
            if (failed) {
                // Full jitter, so instances that lost Redis together do not return in step.
                std::uniform_int_distribution<long long> pick(options.reconnect_min.count(),
                                                              backoff.count());
                backing_off = true;
                co_await nap(std::chrono::milliseconds(pick(rng)));
                backing_off = false;
                backoff = std::min(backoff * 2, options.reconnect_max);
                if (stopping) break;
            }
            failed = true;
            auto node = options.connection;
            if (node.endpoint.is_sentinel()) {
                // Sentinels are cheap to ask: while the master is away, ask at least
                // every second, so a failover is followed soon after it is done.
                backoff = std::max(options.reconnect_min,
                                   std::min(backoff, std::chrono::milliseconds(1000)));
                std::string why;
                auto master = co_await discover(why);
                if (stopping) break;
                if (!master) {
                    set_state(false, why);
                    if (!logged_failure)
                        log::warn("cannot find the redis master; retrying",
                                  {{"client", options.role}, {"reason", why}});
                    logged_failure = true;
                    continue;
                }
                node.endpoint.host = master->host;
                node.endpoint.port = master->port;
                where = master->display() + " (master " + node.endpoint.master_name + ")";
            }
            current = std::make_shared<connection>(ex, node);
            // A connection that dies wakes us at once: no waiting for the next PING.
            current->on_close([weak = weak_from_this()](error_code why) {
                if (auto me = weak.lock()) {
                    if (me->up) me->set_state(false, why.message());
                    if (me->checking) me->sleep.cancel();  // never cut a backoff short
                }
            });
            std::string detail;
            auto ec = co_await current->connect(detail);
            if (stopping) break;
            if (!ec) {
                auto not_master = co_await check_role();
                if (stopping) break;
                if (!not_master.empty()) {
                    current->close();
                    ec = make_error_code(error::connection_lost);
                    detail = std::move(not_master);
                }
            }
            if (ec) {
                set_state(false, detail);
                if (!logged_failure)
                    log::warn("cannot reach redis; retrying",
                              {{"client", options.role}, {"redis", where}, {"reason", detail}});
                logged_failure = true;
                continue;
            }
            if (ever_up) series.count_reconnect();
            ever_up = true;
            logged_failure = false;
            set_state(true, {});
            flush_parked();
            checking = true;

            while (!stopping) {
                auto started = clock_type::now();
                auto why = co_await check_role();
                if (stopping) break;
                if (!why.empty()) {
                    set_state(false, why);
                    current->close();
                    break;
                }
                // Only a connection that answers resets the backoff: one that accepts
                // and then drops us must not make us reconnect in a tight loop.
                backoff = options.reconnect_min;
                series.observe_rtt(
                    std::chrono::duration<double>(clock_type::now() - started).count());
                co_await nap(options.health_check_interval);
                if (!connected()) break;  // on_close has said why
            }
            checking = false;
        }
        up.store(false);
        series.set_up(false);
    }
};

client::client(executor_type ex, client_options options, metrics::registry* metrics)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(options), metrics)) {}

client::~client() {
    stop();
}

void client::start() {
    auto d = impl_;
    net::co_spawn(d->ex, d->run(), sluice::net::report_failure("redis client " + d->options.role));
    if (d->options.wait_when_disconnected.count() > 0)
        net::co_spawn(d->ex, d->expire_loop(), sluice::net::report_failure("redis client expiry"));
}

void client::stop() {
    auto d = impl_;
    if (d->stopping.exchange(true)) return;
    net::dispatch(d->ex, [d] {
        d->sleep.cancel();
        d->expire_parked(true, error::closed);
        if (d->current) d->current->close();
    });
}

void client::set_on_up(std::function<void()> f) {
    impl_->on_up = std::move(f);
}

void client::poke() {
    net::dispatch(impl_->ex, [d = impl_] {
        if (d->backing_off) d->sleep.cancel();
    });
}

bool client::is_up() const {
    return impl_->up.load(std::memory_order_acquire);
}

std::string client::status() const {
    std::lock_guard lock(impl_->status_mutex);
    return impl_->status_text;
}

client::executor_type client::get_executor() const {
    return impl_->ex;
}

void client::start_exec(request req, boost::asio::any_completion_handler<exec_signature> handler,
                        std::chrono::milliseconds extra_time) {
    if (sluice::net::is_running_in(impl_->ex))
        return impl_->exec(std::move(req), std::move(handler), extra_time);
    net::dispatch(impl_->ex,
                  [d = impl_, req = std::move(req), h = std::move(handler), extra_time]() mutable {
                      d->exec(std::move(req), std::move(h), extra_time);
                  });
}

}  // namespace sluice::redis
