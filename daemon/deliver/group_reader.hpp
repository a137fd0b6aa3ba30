#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deliver/group_dispatcher.hpp"
#include "deliver/position.hpp"
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
    std::function<void(std::string_view task)> restarted;  // a supervised task restarts
    // How often readers claim due redeliveries and look at deadlines.
    std::chrono::milliseconds sweep_every{200};
};

// Feeds the local members of one consumer group of one type, on one I/O thread: the
// async shell around a group_dispatcher, which decides everything. It reads new
// entries with XREADGROUP (its own blocking connection, COUNT = the members' free
// window, never more), takes over due redeliveries with the claim script
// (store/scripts.hpp) every sweep, feeds both to the dispatcher, sends the frames it
// answers and runs its store operations; acks from all members are coalesced into one
// XACK per event-loop turn. Deadlines live in Redis's PEL idle time, so another
// instance redelivers what this one handed out if this one dies
// (docs/architecture.md). Its read and sweep loops are supervised: one that fails is
// restarted after a backoff (sluice_task_restarts_total).
class group_reader : public std::enable_shared_from_this<group_reader> {
  public:
    group_reader(boost::asio::any_io_executor ex, reader_context& ctx, std::string type,
                 std::string group);

    void start();
    void stop();

    void add(const std::shared_ptr<subscription>& s);
    // The member's unacked entries become due at once (for another member).
    void remove(const std::shared_ptr<subscription>& s);
    bool idle() const { return dispatcher_.idle(); }

    void ack(subscription& s, const std::vector<std::string>& ids);
    // These return the ids the member does not hold and apply the others.
    std::vector<std::string> nack(subscription& s, const std::vector<std::string>& ids,
                                  std::optional<std::uint64_t> delay_ms, const std::string& reason);
    std::vector<std::string> extend(subscription& s, const std::vector<std::string>& ids);

  private:
    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> sweep_loop();
    boost::asio::awaitable<void> ensure_group();
    void take(std::vector<store::stream_entry>& entries, std::uint64_t delivery);
    void take(std::vector<store::claimed_entry>& entries);
    // Carries out what the dispatcher decided since the last call.
    void apply();
    void flush_acks();
    void shrink_reads(unsigned asked, std::string_view why);
    group_dispatcher::policy policy() const;

    boost::asio::any_io_executor ex_;
    reader_context& ctx_;
    std::string type_, group_;
    redis::client blocking_;
    store::stream_store store_;           // on the I/O thread's pipelined client
    store::stream_store blocking_store_;  // on this reader's blocking client
    boost::asio::steady_timer wake_;
    boost::asio::steady_timer sweep_timer_;
    group_dispatcher dispatcher_;
    std::unordered_map<group_dispatcher::member_id, std::shared_ptr<subscription>> members_;
    std::vector<std::string> acks_, ack_reasons_;
    std::string claim_from_ = "-";  // where the claim script's next page starts
    // The newest entry this reader knows the stream had: its end when the reader
    // started, then each entry read. Where a vanished group is created again.
    std::optional<entry_id> last_seen_;
    // What save_ack_timeout() last told Redis (none: nothing yet).
    std::optional<std::chrono::milliseconds> saved_ack_timeout_;
    // The longest ack timeout of the members, in Redis for other brokers' claims.
    void save_ack_timeout();
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
