#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/position.hpp"

namespace sluice::streams {

// The JSON bodies of the group and dead-letter endpoints. Sans-I/O; each parse runs
// to completion on the calling thread (a per-thread simdjson parser) and copies what
// it keeps, so nothing points into the request afterwards.

// Why a body was refused: `code` is `malformed_json` (not JSON) or `invalid_body`
// (JSON of the wrong shape); `detail` says what is expected.
struct body_error {
    std::string_view code;
    std::string detail;
};

// PUT /v1/streams/{type}/groups/{group}: nothing (or only whitespace), or an object
// `{"from": "new" | "start" | <entry id> | <RFC 3339 time>}`; `from` defaults to "new".
std::optional<body_error> parse_group_body(std::string_view body, deliver::start_position& out);

// Which dead letters a requeue or delete acts on: every one, or the listed entry ids
// (normalised to <ms>-<seq>, at most max_page, in the order given).
struct entry_selection {
    bool all = false;
    std::vector<std::string> entries;
};

// `{"entries": ["<id>", ...]}` or `{"all": true}`, exactly one of them. An empty body is
// refused: acting on every dead letter must be asked for explicitly.
std::optional<body_error> parse_entry_selection(std::string_view body, entry_selection& out);

// True when `body` holds nothing but JSON whitespace.
bool is_blank(std::string_view body);

}  // namespace sluice::streams
