#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>

#include "deliver/group_reader.hpp"
#include "http/message.hpp"

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::metrics {
class registry;
}

namespace sluice::deliver {

class tail_watch;
class ws_session;

struct websocket_limits {
    std::size_t max_message_bytes = 64 * 1024;
    std::size_t max_subscriptions = 100;
    std::chrono::milliseconds send_timeout{10'000};
    std::chrono::milliseconds ping_interval{30'000};
    std::size_t max_queued_bytes = 16 * 1024 * 1024;  // toward one client, every frame kind
};

// Delivery on one I/O thread: its WebSocket sessions, one group reader per (type,
// group) and one tail watch per fan-out type that its sessions subscribe to. Readers
// start with their first member and stop with their last. Everything runs on the
// thread's io_context; drain() and stop() may be called from any thread.
class hub {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

    hub(boost::asio::any_io_executor ex, redis::client& io, redis::client_options blocking,
        std::string consumer, catalog_source catalog, metrics::registry& metrics,
        websocket_limits limits);
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    // GET /v1/ws with an upgrade: starts a WebSocket session that owns `stream` (and
    // the connection's lease) until it closes. On the hub's thread.
    // `access`: who opened it, or the answer that refuses the upgrade.
    void accept(sluice::net::stream stream, http::request req, std::string leftover,
                http::connection_lease lease, ws_access access = {});

    // Closes every socket with 1001 (going away); their unacked events become due
    // for other members at once.
    void drain();
    void stop();

    // Takes effect for new connections.
    void set_limits(const websocket_limits& l);

    // For sessions, on the hub's thread.
    std::shared_ptr<group_reader> join_group(const std::string& type, const std::string& group);
    void leave_group(const std::shared_ptr<subscription>& s);
    std::shared_ptr<tail_watch> join_tail(const std::string& type);
    void leave_tail(const std::string& type);
    std::shared_ptr<const catalog::schema_catalog> catalog() const { return catalog_(); }
    registry::type_policy::delivery_policy policy(const std::string& type) const;
    redis::client& io() { return io_; }
    metrics::registry& metrics() { return metrics_; }
    const websocket_limits& limits() const { return limits_; }
    void add_session(ws_session* s) { sessions_.insert(s); }
    void remove_session(ws_session* s) { sessions_.erase(s); }
    bool draining() const { return draining_; }

  private:
    boost::asio::any_io_executor ex_;
    redis::client& io_;
    catalog_source catalog_;
    metrics::registry& metrics_;
    websocket_limits limits_;
    reader_context ctx_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<group_reader>> groups_;
    std::map<std::string, std::shared_ptr<tail_watch>> tails_;
    std::unordered_set<ws_session*> sessions_;
    bool draining_ = false;
};

// A consumer name unique to this process: `<host>-<pid>-<random>`.
std::string process_consumer_name();

}  // namespace sluice::deliver
