#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::deliver {

// A stream entry id, `<ms>-<seq>`.
struct entry_id {
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;

    std::string str() const { return std::to_string(ms) + '-' + std::to_string(seq); }
    // The id just before this one (0-0 stays 0-0): reading "after before(x)" includes x.
    entry_id before() const;
    auto operator<=>(const entry_id&) const = default;
};

// Parses `<ms>-<seq>` or `<ms>` (seq 0). Nothing on anything else.
std::optional<entry_id> parse_entry_id(std::string_view text);

// Parses an RFC 3339 date-time (`2026-11-27T10:00:00Z`, fractions and offsets allowed)
// into milliseconds since the Unix epoch.
std::optional<std::uint64_t> parse_rfc3339_ms(std::string_view text);

// Where a subscription or a replay starts, from the protocol's `from`:
// "new" (entries added from now on), "start" (the oldest kept entry), an entry id,
// or an RFC 3339 time (the first entry at or after it).
struct start_position {
    enum class kind { newest, oldest, at } where = kind::newest;
    entry_id first;  // with `at`: the first entry to include

    // The id to read after (XREAD / XGROUP CREATE semantics); "$" for newest.
    std::string after() const;
};

// Nothing when `text` is none of the forms above.
std::optional<start_position> parse_start_position(std::string_view text);

// Where to create a consumer group again that vanished under its readers (XGROUP
// CREATE's id): after `last_seen`, the newest entry this reader knew the stream had,
// when the stream still holds history up to it (`oldest`, its first entry, is not
// newer: only the group was deleted); else from the start, "0": the stream is new
// (Redis came back empty, or a failover to a replica that had none of it), and every
// entry in it was published after the group last read, so none may be skipped.
std::string recreate_group_at(std::optional<entry_id> oldest, std::optional<entry_id> last_seen);

}  // namespace sluice::deliver
