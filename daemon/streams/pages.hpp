#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/event_json.hpp"
#include "redis/resp.hpp"

namespace sluice::streams {

// Pages of stream entries: XRANGE replies in, the JSON answers of replay and of the
// dead-letter list out. Sans-I/O.

// The entries of an XRANGE reply (an array of [id, [field, value, ...]]), or nothing
// when the reply has another shape.
std::optional<std::vector<deliver::stream_entry>> entries_from_xrange(const redis::reply& r);

// The entry id just after `id` (seq + 1, or the next millisecond when seq is at its
// maximum): the `from` of the next page. Empty when `id` is not an entry id.
std::string id_after(std::string_view id);

// {"type":..., "events":[{"entry":"<id>","event":{<CloudEvent>}}, ...], "next":...}.
// `next` is the `from` of the following page when this one is full (it holds `limit`
// entries), else null.
std::string replay_page_json(std::string_view type,
                             const std::vector<deliver::stream_entry>& entries, std::size_t limit);

// {"type":..., "dead_letters":[{"dlq_entry","entry","group","deliveries","reason",
// "time","event"}, ...], "next":...}; a dead letter's own fields (docs/storage.md) give
// entry, group, deliveries, reason and time (null when absent), the rest the event.
std::string dead_letter_page_json(std::string_view type,
                                  const std::vector<deliver::stream_entry>& entries,
                                  std::size_t limit);

}  // namespace sluice::streams
