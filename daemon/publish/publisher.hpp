#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http/message.hpp"
#include "schema/schema.hpp"

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::metrics {
class registry;
}
namespace sluice::redis {
class client;
}

namespace sluice::publish {

struct publish_options {
    std::string source = "sluice";  // CloudEvents `source` when the publisher gives none
    std::chrono::milliseconds idempotency_window{86'400'000};
    std::size_t max_batch = 1000;
    std::size_t max_violations = 20;            // listed per event that breaks its contract
    std::size_t max_answer_bytes = 256 * 1024;  // of violations in one answer
    schema::evaluation_limits evaluation;       // regex limits and steps per request
};

// POST /v1/events: reads CloudEvents in structured, binary and batch mode or the
// simple envelope, checks each against its contract, and appends it to its type's
// stream, idempotently, answering only once Redis has it. A batch goes to Redis as
// one pipelined request and is answered item by item.
//
// Thread model: handle() runs on the HTTP I/O threads; the body is parsed and
// validated with a per-thread parser before the first suspension, so nothing of it
// is shared across requests; the Redis client may live on another thread.
class publisher {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;
    // The Redis client to use from the I/O thread running `ex` (ideally one living on
    // that thread, so a publish never crosses threads).
    using client_source = std::function<redis::client&(const boost::asio::any_io_executor& ex)>;

    publisher(client_source redis, catalog_source catalog, metrics::registry& metrics,
              publish_options options);

    // Takes effect for the next request (SIGHUP).
    void set_options(publish_options options);

    boost::asio::awaitable<http::response> handle(const http::request_context& ctx) const;

  private:
    client_source redis_;
    catalog_source catalog_;
    metrics::registry& metrics_;
    std::atomic<std::shared_ptr<const publish_options>> options_;
};

}  // namespace sluice::publish
