#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deliver/subscription.hpp"
#include "redis/client.hpp"
#include "registry/type_policy.hpp"
#include "store/stream_store.hpp"

namespace sluice::metrics {
struct delivery_series;
}
namespace sluice::deliver {

// What a reader needs from the hub that made it.
struct reader_context {
    redis::client& io;               // the I/O thread's pipelined client
    redis::client_options blocking;  // for the reader's own blocking client
    std::string consumer;            // this thread's consumer name in Redis
    std::function<registry::type_policy::delivery_policy(const std::string& type)> policy;
    std::function<metrics::delivery_series&(const std::string& type, const std::string& group)>
        counters;
};

// Feeds the local members of one consumer group of one type, on one I/O thread.
// Reads new entries with XREADGROUP (its own blocking connection, COUNT = the
// members' free window, never more), takes over due redeliveries with the claim
// script (store/scripts.hpp) five times a second, and hands each entry to one
// member with room, round robin. Acks from all members are coalesced into one XACK
// per event-loop turn. Deadlines live in Redis's PEL idle time, so another instance
// redelivers what this one handed out if this one dies (docs/architecture.md).
class group_reader : public std::enable_shared_from_this<group_reader> {
  public:
    group_reader(boost::asio::any_io_executor ex, reader_context& ctx, std::string type,
                 std::string group);

    void start();
    void stop();

    void add(const std::shared_ptr<subscription>& s);
    // The member's unacked entries become due at once (for another member).
    void remove(const std::shared_ptr<subscription>& s);
    bool idle() const { return members_.empty(); }

    // Acks every id, held or not: an event processed after its deadline was still
    // processed (a redelivery may be on its way; at-least-once allows it).
    void ack(subscription& s, const std::vector<std::string>& ids);
    // These return the ids the member does not hold (unknown, already acked, or past
    // their deadline and given to another member) and apply the others.
    std::vector<std::string> nack(subscription& s, const std::vector<std::string>& ids,
                                  std::optional<std::uint64_t> delay_ms, const std::string& reason);
    std::vector<std::string> extend(subscription& s, const std::vector<std::string>& ids);

  private:
    struct ready_entry {
        std::string id;
        std::shared_ptr<const std::string> event;
        std::uint64_t delivery = 1;
        std::uint64_t entry_ms = 0;
    };

    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> sweep_loop();
    boost::asio::awaitable<void> ensure_group();
    void push(store::stream_entry&& e, std::uint64_t delivery);
    void dispatch();
    void give_back_if_alone();
    void shrink_reads(unsigned asked, std::string_view why);
    unsigned want() const;
    void expire_deadlines();
    // Sets the PEL idle time of `ids` (held by this consumer) so the claim script
    // finds them due after the remaining wait.
    void set_idle(const std::vector<std::pair<std::string, std::uint64_t>>& ids_idle);
    void flush_acks();
    std::uint64_t backoff_ms(const registry::type_policy::delivery_policy& p,
                             std::uint64_t delivery) const;

    boost::asio::any_io_executor ex_;
    reader_context& ctx_;
    std::string type_, group_;
    redis::client blocking_;
    store::stream_store store_;           // on the I/O thread's pipelined client
    store::stream_store blocking_store_;  // on this reader's blocking client
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer sweep_timer_;
    std::vector<std::shared_ptr<subscription>> members_;
    std::size_t next_member_ = 0;
    std::deque<ready_entry> ready_;
    std::vector<std::string> acks_, ack_reasons_;
    std::string claim_from_ = "-";  // where the claim script's next page starts
    bool flush_posted_ = false;
    bool stopped_ = false;
    metrics::delivery_series& counters_;
    // Most entries one read or claim asks for; halved each time a reply is over
    // redis.max_reply_bytes (entries that large cannot come in a full window). The
    // entries of a skipped reply stay pending and come back through the claim script,
    // which dead-letters one that never fits after max_deliveries.
    unsigned read_cap_;
};

}  // namespace sluice::deliver
