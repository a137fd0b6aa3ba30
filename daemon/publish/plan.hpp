#pragma once

#include <boost/container/small_vector.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permissions.hpp"
#include "http/message.hpp"
#include "http/problem.hpp"
#include "publish/publisher.hpp"
#include "schema/schema.hpp"
#include "store/stream_store.hpp"

namespace sluice::catalog {
struct schema_catalog;
}

namespace sluice::publish {

// A publish in three steps (docs/architecture.md, "Publish path"): plan_publish()
// reads the request and decides, with no I/O, what to store and what each event's
// answer is; the store appends `appends`; record() takes what it did; render() writes
// the answer. The plan owns every byte it refers to, so nothing points into the
// request or the per-thread parser while the store works.

// What a request stores and answers, encoded once while the body is at hand: the
// RESP bulk strings of every event's field/value pairs, and the start of every
// event's success answer (`{"id":...,"entry":"`), one after the other in one buffer.
// Events refer to their parts by offset, so an event costs no allocation of its own,
// and nothing points into the request or the per-thread parser once the handler
// waits for Redis.
struct encoded_events {
    std::string bytes;
};

struct span {
    std::size_t at = 0;
    std::size_t size = 0;
    std::string_view in(const std::string& s) const { return std::string_view(s).substr(at, size); }
};

// One event ready for Redis.
struct prepared_event {
    std::string_view type;    // the catalog's own name: the catalog outlives the request
    std::string idempotency;  // empty: the broker assigned the id, no repeat possible
    span fields;              // in encoded_events::bytes
    std::size_t field_count = 0;
    span answer;  // in encoded_events::bytes
};

// The fate of one event of the request.
struct item {
    std::optional<prepared_event> event;  // set when it passed every check
    http::problem problem;                // else why not
    // For a schema_violation: what the contract found, rendered into `problem` only
    // when the answer is written, within the answer's byte budget.
    std::vector<schema::violation> violations;
    bool more_violations = false;  // the contract found more than publish.max_violations
    std::string entry;
    bool duplicate = false;
    std::string_view type;  // for metrics, once known (the catalog's name)
    unsigned version = 0;   // likewise
    bool retry = false;     // a 503 the client should retry (Retry-After)
};

// A request's events: one, unless it is a batch.
using item_list = boost::container::small_vector<item, 1>;

struct publish_plan {
    bool batch = false;
    std::size_t request_bytes = 0;  // the body's size: what bounds its answer's explanations
    // The request as a whole was refused (415, malformed JSON, a bad batch): the answer.
    std::optional<http::problem> refused;
    item_list items;
    encoded_events enc;
    // The appends of the events that passed their checks, and the item of each.
    boost::container::small_vector<store::stream_store::append_item, 1> appends;
    boost::container::small_vector<std::size_t, 1> written;
    // Set by record(): the store gave no reply for the whole request.
    boost::system::error_code redis_error;
};

// Reads and checks every event of the request. Must run before the handler first
// suspends: it uses this thread's simdjson parser. An event whose type `who` may not
// publish is answered 403 `forbidden` and not stored (null: every type may be).
publish_plan plan_publish(const http::request& req, const catalog::schema_catalog& cat,
                          const publish_options& opts, const auth::principal* who = nullptr);

// Takes what the store did with plan.appends into the items.
void record(publish_plan& plan, const store::result<store::done>& stored);

// The answer: the event's (201/200, a problem), or the batch's item by item (200/207).
// `budget_ran_out`, when given, is set when the answer left explanations out for
// publish.max_answer_bytes (or the request's own size).
http::response render(const publish_plan& plan, const publish_options& opts,
                      bool* budget_ran_out = nullptr);

}  // namespace sluice::publish
