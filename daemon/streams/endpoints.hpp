#pragma once

#include <functional>
#include <memory>

#include "streams/pages.hpp"

namespace sluice::catalog {
struct schema_catalog;
}
namespace sluice::http {
class service;
}
namespace sluice::metrics {
class registry;
}

namespace sluice::streams {

// The current schema catalog: a type is known when it has a contract.
using catalog_source = std::function<std::shared_ptr<const catalog::schema_catalog>()>;

// Adds the replay, consumer-group and dead-letter endpoints to `api`:
//   GET    /v1/streams/{type}/events?from=&to=&limit=   a page of the type's events
//   GET    /v1/streams/{type}/groups?after=             a page of its consumer groups
//   PUT    /v1/streams/{type}/groups/{group}            create a group, or move it
//   GET    /v1/dlq/{type}?from=&limit=                  a page of its dead letters
//   POST   /v1/dlq/{type}/requeue                       dead letters back onto the stream
//   DELETE /v1/dlq/{type}                               dead letters deleted
// docs/http-api.md describes each answer and error. The handlers run on the I/O
// threads and use the `store::stream_store` the serving thread lends in the request
// context (ctx.worker), so a request never crosses threads; `catalog` must stay
// callable for as long as the server runs. `limits` bound what one page (events, dead
// letters, groups) asks of Redis; `metrics` counts the pages they cut short.
void add_stream_endpoints(http::service& api, catalog_source catalog, metrics::registry& metrics,
                          page_limits limits = {});

}  // namespace sluice::streams
