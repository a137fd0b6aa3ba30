#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"
#include "schema/schema.hpp"

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::metrics {
class registry;
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
// is shared across requests. The Redis client is the one the serving I/O thread lends
// in the request context (ctx.worker), living on that thread, so a publish never
// crosses threads.
class publisher {
  public:
    using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

    publisher(catalog_source catalog, metrics::registry& metrics, publish_options options);

    // Takes effect for the next request (SIGHUP).
    void set_options(publish_options options);

    // Rate limits: given the request and how many events it holds, the seconds to
    // wait when it is over a limit (answered 429 with Retry-After, nothing stored),
    // else nothing. Set before the server starts; none by default.
    using rate_limit = std::function<std::optional<long long>(const http::request_context& ctx,
                                                              std::size_t events)>;
    void set_rate_limit(rate_limit limit) { rate_limit_ = std::move(limit); }

    boost::asio::awaitable<http::response> handle(const http::request_context& ctx) const;

  private:
    catalog_source catalog_;
    metrics::registry& metrics_;
    std::atomic<std::shared_ptr<const publish_options>> options_;
    rate_limit rate_limit_;
};

}  // namespace sluice::publish
