#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/dead_letters.hpp"
#include "store/entries.hpp"
#include "store/groups.hpp"
#include "store/result.hpp"

namespace sluice::redis {
class client;
}

namespace sluice::store {

// Every stream command and script of the data path, over one Redis client: the only
// code outside daemon/redis/ that names a Redis command (docs/architecture.md, "The
// store"). It builds each command from the key layout (store/keys.hpp), runs scripts
// by SHA1 and sends their source once when Redis answers NOSCRIPT, splits the replies
// of pipelined requests into one per item, and decodes every reply into a typed
// result. Cheap to make (it holds a reference): one per client, on that client's
// thread. Operations marked "best effort" complete with no result: what they change
// comes back another way if they are lost (docs/architecture.md).
class stream_store {
  public:
    template <typename T>
    using task = boost::asio::awaitable<result<T>>;

    explicit stream_store(redis::client& c) : client_(c) {}
    redis::client& client() const { return client_; }

    // ---- appends

    // One event to append: its type, its fields already encoded as RESP bulk strings
    // (redis::append_bulk, name then value, `field_count` of them), and its
    // idempotency key (store/keys.hpp) or empty. append() writes `outcome`.
    struct appended {
        std::string entry;       // the stream entry id
        bool duplicate = false;  // an earlier event with its id and source is that entry
    };
    struct append_item {
        std::string_view type;
        std::string_view fields;
        std::size_t field_count = 0;
        std::string_view idempotency;
        result<appended> outcome;
    };
    // Appends every item in one pipelined request (the idempotent ones through
    // append_script, within `window`) and sets each item's outcome; the result's own
    // error is for what failed for all of them (then no outcome is set).
    task<done> append(std::span<append_item> items, std::chrono::milliseconds window);

    // ---- consumer groups

    // Creates `group` on the type's stream (and the stream), delivering after
    // `position` ("$": new entries only). True when created, false when it existed.
    task<bool> create_group(std::string_view type, std::string_view group,
                            std::string_view position);
    // Creates the group, or moves an existing one to `position`. True when created.
    task<bool> place_group(std::string_view type, std::string_view group,
                           std::string_view position);

    // Up to `count` new entries of `group` for `consumer`, waiting up to `block` for
    // the first (XREADGROUP ... BLOCK; use a client of its own). A missing group is
    // `refused` with NOGROUP in its text.
    task<std::vector<stream_entry>> read_group(std::string_view type, std::string_view group,
                                               std::string_view consumer, unsigned count,
                                               std::chrono::milliseconds block);

    // What claim_script needs besides the group: the type's delivery policy.
    struct claim_request {
        std::string_view group, consumer;
        std::chrono::milliseconds ack_timeout, retry_backoff, retry_backoff_max;
        std::uint32_t max_deliveries = 0;
        unsigned count = 0;
        std::string_view now;    // RFC 3339, stamped on dead letters
        std::string_view start;  // "-", or the previous call's `next`
    };
    // Takes over due redeliveries and dead-letters spent ones (store/scripts.hpp).
    task<claim_result> claim(std::string_view type, const claim_request& r);

    // Saves the longest ack timeout of `consumer`'s subscriptions to `group` (none:
    // forgets it), so that what it holds, should it die, is due for the claim
    // script of another broker after that rather than the type's ack timeout. Best
    // effort: without it the type's ack timeout applies.
    void save_ack_timeout(std::string_view type, std::string_view group, std::string_view consumer,
                          std::optional<std::chrono::milliseconds> longest);

    // Acknowledges `ids` and forgets the nack reasons saved under `reason_fields`
    // (`<group>\n<id>`). Best effort: an ack that is lost means a redelivery.
    void ack(std::string_view type, std::string_view group, const std::vector<std::string>& ids,
             const std::vector<std::string>& reason_fields);
    // Sets the PEL idle time of entries `consumer` holds (one XCLAIM per distinct
    // time), so the claim script finds them due after the rest of their wait. Best
    // effort: without it they still come back after the ack timeout.
    void set_idle(std::string_view type, std::string_view group, std::string_view consumer,
                  const std::vector<std::pair<std::string, std::uint64_t>>& ids_idle);
    // Saves `reason` for each `<group>\n<id>` field, for their dead letters. Best effort.
    void save_nack_reasons(std::string_view type, const std::vector<std::string>& fields,
                           std::string_view reason);

    // The first `most` groups of the type's stream by name (those named after `after`,
    // when given) and how many it has in all; none (and total 0) when the stream does
    // not exist.
    struct group_listing {
        std::vector<group_info> groups;
        long long total = 0;
    };
    task<group_listing> list_groups(std::string_view type, std::size_t most,
                                    std::string_view after = {});
    // The same for several types in one pipelined request, a result per type.
    task<std::vector<result<group_listing>>> list_groups(std::span<const std::string> types,
                                                         std::size_t most);
    // Fills each group's consumers and oldest pending entry; groups deleted meanwhile
    // are dropped from `groups`. With `with_time`, `value` is Redis's clock in ms
    // (which also stamped the entry ids), else 0. One pipelined request: callers bound
    // its reply by group_details_bytes.
    task<std::uint64_t> describe_groups(std::string_view type, std::vector<group_info>& groups,
                                        bool with_time);
    // The consumers of one group.
    task<std::vector<consumer_info>> consumers(std::string_view type, std::string_view group);
    task<done> delete_consumer(std::string_view type, std::string_view group,
                               std::string_view consumer);

    // ---- reading streams

    // The id of the stream's newest entry, "0-0" when it has none.
    task<std::string> last_entry_id(std::string_view type);
    // Up to `count` entries after `after`; with `block`, waits that long for the first
    // (XREAD ... BLOCK; use a client of its own).
    task<std::vector<stream_entry>> read_after(std::string_view type, std::string_view after,
                                               unsigned count,
                                               std::optional<std::chrono::milliseconds> block);
    // Entries from `from` to `to` (XRANGE bounds), at most `count`, of the type's
    // stream or of its dead letters.
    enum class stream_kind { events, dead_letters };
    task<std::vector<stream_entry>> range(stream_kind which, std::string_view type,
                                          std::string_view from, std::string_view to,
                                          std::size_t count);

    // ---- dead letters

    // One call of requeue_script: `ids`, or (with `all`) up to `most` from `start`.
    task<requeue_result> requeue(std::string_view type, bool all, std::string_view start,
                                 std::size_t most, std::span<const std::string> ids);
    // Deletes every dead letter, or those of `ids`; `value` is how many went.
    task<long long> delete_dead_letters(std::string_view type, bool all,
                                        std::span<const std::string> ids);

    // ---- retention

    struct trim_request {
        std::uint64_t max_length = 0;  // 0: no length bound
        std::string oldest = "0";      // oldest entry id kept by age, "0": none
        std::size_t per_round = 0;
        bool unsafe = false;  // ignore consumer groups
    };
    struct trimmed {
        long long entries = 0;
        // The groups that held the cutoff back and the oldest entry each needs.
        std::vector<std::pair<std::string, std::string>> holders;
    };
    task<trimmed> trim(std::string_view type, const trim_request& r);

  private:
    redis::client& client_;
};

}  // namespace sluice::store
