#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deliver/subscription.hpp"
#include "redis/client.hpp"

namespace sluice::deliver {

struct reader_context;

// Tells the fan-out subscriptions of one type on one I/O thread that the stream grew.
// One blocking XREAD per type and thread waits for new entries; each subscription
// then reads from its own position (so slow ones simply fall behind in Redis).
class tail_watch : public std::enable_shared_from_this<tail_watch> {
  public:
    tail_watch(boost::asio::any_io_executor ex, reader_context& ctx, std::string type);

    void start();
    void stop();

    // Bumped each time new entries were seen.
    std::uint64_t generation() const { return generation_; }
    // True once the watch knows where the stream ends, so no entry added later can
    // go unnoticed.
    bool ready() const { return ready_; }

    // The entries of the last read, each event's JSON built once, and the id they
    // follow: a subscriber at exactly that id takes them without a read of its own.
    struct shared_entry {
        std::string id;
        std::shared_ptr<const std::string> event;
        std::uint64_t entry_ms = 0;
    };
    const std::string& batch_after() const { return batch_after_; }
    const std::vector<shared_entry>& batch() const { return batch_; }

    void add_waiter(boost::asio::steady_timer* t) { waiters_.push_back(t); }
    void remove_waiter(boost::asio::steady_timer* t) { std::erase(waiters_, t); }
    std::size_t users = 0;  // fan-out subscriptions using it (the hub's count)

  private:
    boost::asio::awaitable<void> run();
    void notify();

    boost::asio::any_io_executor ex_;
    std::string type_;
    redis::client blocking_;
    std::vector<boost::asio::steady_timer*> waiters_;
    std::string batch_after_;
    std::string last_;  // the last entry id the watch has seen; empty until it knows
    std::vector<shared_entry> batch_;
    std::uint64_t generation_ = 0;
    bool ready_ = false;
    bool stopped_ = false;
    std::function<void(std::string_view task)> restarted_;
    unsigned read_cap_ = 100;  // entries per tail read; halved by a reply over the cap
};

// Delivers one fan-out subscription from `cursor` onward (an entry id to read
// after), at most `window` frames queued on the socket at a time. Ends when the
// subscription closes.
boost::asio::awaitable<void> feed_fanout(std::shared_ptr<subscription> s, std::string cursor,
                                         std::shared_ptr<tail_watch> tail, redis::client& io);

}  // namespace sluice::deliver
