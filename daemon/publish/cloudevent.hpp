#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/problem.hpp"

namespace sluice::publish {

// One event as a publisher sent it, in any of the accepted shapes, before the
// broker fills what is missing. Views point into the request (headers and the
// parsed body), which outlives it.
struct incoming_event {
    std::string_view type;
    unsigned version = 0;  // 0: the type's default
    std::string id;        // empty: the broker assigns a UUIDv7
    std::string source;    // empty: publish.source
    std::string time;      // empty: now
    std::string subject;
    std::string datacontenttype;
    std::string traceparent;
    std::string tracestate;
    simdjson::dom::element data;
    bool has_data = false;
};

// How the body is to be read, from Content-Type and the presence of ce- headers.
enum class body_mode { structured, batch, binary, envelope, unsupported };

// Media type without parameters or surrounding spaces, as written (compare it
// case-insensitively): "application/cloudevents+json".
std::string_view media_type(std::string_view content_type);

body_mode mode_for(std::string_view content_type, bool has_ce_specversion_header);

// A problem in one event, for the 4xx answer (or one item of a batch answer).
struct event_error {
    http::problem problem;
};

// Reads a structured-mode CloudEvent (a JSON object). Nullopt sets `error`.
std::optional<incoming_event> read_structured(simdjson::dom::element object, event_error& error);

// Reads the simple envelope {"type", "version", "data", "id"?, "source"?, "subject"?, "time"?}.
std::optional<incoming_event> read_envelope(simdjson::dom::element object, event_error& error);

// Header lookup for binary mode: the value of `name` (lowercase), or nullopt.
struct header_source {
    virtual ~header_source() = default;
    virtual std::optional<std::string_view> get(std::string_view name) const = 0;
};

// Reads a binary-mode event: attributes from ce-* headers, `data` the parsed body.
std::optional<incoming_event> read_binary(const header_source& headers, simdjson::dom::element body,
                                          event_error& error);

// W3C trace context: true when `traceparent` is well formed (version 00 layout).
bool is_valid_traceparent(std::string_view traceparent);

// W3C trace context caps what a tracestate must carry at 512 characters and 32
// list members: a longer one is cut the way the spec asks (members over 128
// characters go first, then members from the end) and empty members are dropped.
// Returns `tracestate` itself when it is within bounds, else the cut value, built in
// `storage`; empty when nothing is left.
std::string_view bound_tracestate(std::string_view tracestate, std::string& storage);

// Where a JSON syntax error is, for a 400 a person can act on: 1-based line and
// column of the first byte that cannot be part of valid JSON (best effort).
struct text_position {
    std::size_t line = 1;
    std::size_t column = 1;
};
text_position locate_json_error(std::string_view text);

}  // namespace sluice::publish
