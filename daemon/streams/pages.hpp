#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/event_json.hpp"
#include "redis/resp.hpp"
#include "streams/query.hpp"

namespace sluice::streams {

// Pages of stream entries: the JSON answers of replay and of the dead-letter list,
// and the steps a page is read in. Sans-I/O.

// The entry id just after `id` (seq + 1, or the next millisecond when seq is at its
// maximum): the `from` of the next page. Empty when `id` is not an entry id.
std::string id_after(std::string_view id);

// {"type":..., "events":[{"entry":"<id>","event":{<CloudEvent>}}, ...], "next":...}.
// `next` is the `from` of the following page when `more` (the page was cut by its
// limit or its byte budget), else null.
std::string replay_page_json(std::string_view type,
                             const std::vector<deliver::stream_entry>& entries, bool more);

// {"type":..., "dead_letters":[{"dlq_entry","entry","group","deliveries","reason",
// "time","event"}, ...], "next":...}; a dead letter's own fields (docs/storage.md) give
// entry, group, deliveries, reason and time (null when absent), the rest the event.
std::string dead_letter_page_json(std::string_view type,
                                  const std::vector<deliver::stream_entry>& entries, bool more);
// One dead letter, as a page's item with its type: {"type":..., "dlq_entry":..., ...}.
std::string dead_letter_json(std::string_view type, const deliver::stream_entry& entry);

// What bounds the Redis replies of a page. Redis cannot limit XRANGE by bytes, so the
// COUNT asked is bounded by the largest entry a publish can store.
struct page_limits {
    std::size_t max_reply_bytes = 64 * 1024 * 1024;  // redis.max_reply_bytes
    // The largest entry a publish can store: http.max_body_bytes plus
    // http.max_header_bytes (binary mode's ce- headers) plus what Sluice adds.
    std::size_t max_entry_bytes = 1024 * 1024 + 16 * 1024 + 4096;

    // Half the reply cap: one XRANGE asks for no more entries than fit in it at their
    // largest (the other half is room for the decoder's per-element charge and for
    // entries stored under a larger http.max_body_bytes), and a page stops once the
    // entries it holds reach it.
    std::size_t step_bytes() const { return std::max<std::size_t>(1, max_reply_bytes / 2); }
};

// What an entry costs as the reply decoder charges it: its strings plus 16 bytes per
// array element (the entry's pair and its field list).
std::size_t entry_charge(const deliver::stream_entry& e);

// One page read in XRANGE steps (sans-I/O). The shell asks
// `XRANGE key from() <last> COUNT next_count()` while next_count() is not 0 and hands
// each reply to take(), or calls too_large() when the reply was over the cap.
class page_reader {
  public:
    page_reader(const page_query& q, const page_limits& limits);

    // COUNT of the next step: at most what fits in step_bytes() at max_entry_bytes
    // each (at least 1) and what the page still wants; 0 once the page is complete.
    std::size_t next_count() const;
    const std::string& from() const { return from_; }

    // The entries of the step just asked for, in order. The page is complete when it
    // holds `limit` entries, when Redis had fewer than asked (the range has ended), or
    // when its entries' charge reached step_bytes().
    void take(std::vector<deliver::stream_entry> entries);

    // The step's reply was over the cap (entries larger than max_entry_bytes): the
    // next step asks for half as many. With one entry asked, the page ends before it
    // (more() is true, so the client's next page starts at it); false when the page
    // holds nothing, so the request fails.
    bool too_large();

    std::vector<deliver::stream_entry>& entries() { return entries_; }
    // True when the page was cut (by its limit, its bytes or an oversized entry).
    bool more() const { return more_; }
    // True when the page ended early for its bytes (or an oversized entry), not its limit.
    bool cut_by_bytes() const { return cut_by_bytes_; }
    std::size_t charged_bytes() const { return bytes_; }

  private:
    std::size_t limit_;
    std::size_t step_bytes_;
    std::size_t ask_;
    std::string from_;
    std::vector<deliver::stream_entry> entries_;
    std::size_t bytes_ = 0;
    bool done_ = false;
    bool more_ = false;
    bool cut_by_bytes_ = false;
};

}  // namespace sluice::streams
