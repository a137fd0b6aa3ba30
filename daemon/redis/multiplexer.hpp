#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "redis/error.hpp"
#include "redis/resp.hpp"

namespace sluice::redis {

// What a request completes with: a move-only callable `void(error_code, reply)`,
// called at most once. A function of up to 48 bytes (an Asio completion handler and a
// pointer, a std::function) is stored in place, so queueing a request allocates
// nothing for its completion. Not thread-safe.
class completion {
  public:
    completion() noexcept = default;

    // Implicit, as for std::function: a lambda converts.
    template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, completion>>>
    completion(F&& f) {
        using T = std::decay_t<F>;
        if constexpr (fits_in_place<T>) {
            ::new (static_cast<void*>(storage_)) T(std::forward<F>(f));
            ops_ = &in_place_ops<T>;
        } else {
            ::new (static_cast<void*>(storage_)) T*(new T(std::forward<F>(f)));
            ops_ = &on_heap_ops<T>;
        }
    }

    completion(completion&& other) noexcept { take(other); }
    completion& operator=(completion&& other) noexcept {
        if (this != &other) {
            reset();
            take(other);
        }
        return *this;
    }
    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;
    ~completion() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }

    // Calls the function and leaves this empty. The function is moved out first, so it
    // may destroy or reuse this object.
    void operator()(boost::system::error_code ec, reply r) {
        auto* ops = std::exchange(ops_, nullptr);
        ops->call(storage_, ec, std::move(r));
    }

  private:
    struct operations {
        void (*call)(void* storage, boost::system::error_code ec, reply&& r);
        void (*move)(void* from, void* to) noexcept;
        void (*destroy)(void* storage) noexcept;
    };

    static constexpr std::size_t capacity = 48;

    template <typename T>
    static constexpr bool fits_in_place =
        sizeof(T) <= capacity &&
        alignof(T) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<T>;

    template <typename T>
    static constexpr operations in_place_ops{
        [](void* s, boost::system::error_code ec, reply&& r) {
            auto* p = std::launder(static_cast<T*>(s));
            T f(std::move(*p));
            p->~T();
            f(ec, std::move(r));
        },
        [](void* from, void* to) noexcept {
            auto* p = std::launder(static_cast<T*>(from));
            ::new (to) T(std::move(*p));
            p->~T();
        },
        [](void* s) noexcept { std::launder(static_cast<T*>(s))->~T(); }};

    template <typename T>
    static constexpr operations on_heap_ops{
        [](void* s, boost::system::error_code ec, reply&& r) {
            T* f = *std::launder(static_cast<T**>(s));
            struct owner {
                T* p;
                ~owner() { delete p; }
            } own{f};
            (*f)(ec, std::move(r));
        },
        [](void* from, void* to) noexcept { ::new (to) T*(*std::launder(static_cast<T**>(from))); },
        [](void* s) noexcept { delete *std::launder(static_cast<T**>(s)); }};

    void take(completion& other) noexcept {
        if (!other.ops_) return;
        other.ops_->move(other.storage_, storage_);
        ops_ = std::exchange(other.ops_, nullptr);
    }
    void reset() noexcept {
        if (auto* ops = std::exchange(ops_, nullptr)) ops->destroy(storage_);
    }

    alignas(std::max_align_t) unsigned char storage_[capacity];
    const operations* ops_ = nullptr;
};

struct multiplexer_options {
    // Requests queued or awaiting replies, and their encoded bytes; beyond either, add()
    // refuses at once with error::overloaded, so a slow Redis cannot make us pile up.
    std::size_t max_pending_requests = 100'000;
    std::size_t max_pending_bytes = 64 * 1024 * 1024;
    reply_limits limits;
    // Called from consume() for each reply skipped over `limits`, before its request
    // completes (the connection logs and counts it).
    std::function<void(const skipped_reply&)> on_reply_too_large;
    // Replicated writes (request::replicate()): each write to the socket that carries
    // one ends with `WAIT min_replicas replica_timeout`, and those requests complete
    // only with its answer, with error::not_replicated when fewer replicas confirmed.
    // One WAIT covers every write in it. 0: no WAIT, replicated writes complete as any.
    unsigned min_replicas = 0;
    std::chrono::milliseconds replica_timeout{1000};
};

// The request/reply bookkeeping of one pipelined Redis connection, sans-I/O: requests
// wait in a queue, go out together in one write (prepare_write / commit_write), and
// the replies fed to consume() complete them in order. A request of n commands
// completes once all n replies are in, with an array of them (one command: its reply).
// The I/O shell around it only moves bytes and time: wait for work, write
// prepare_write(), commit what was written, read, consume.
//
// Every request's completion is called exactly once: with its reply from consume(),
// with error::reply_too_large from consume() when one of its replies was over the
// caps, with error::overloaded from add() when the caps on pending requests refuse it,
// or with the error given to cancel_all(). A completion may call add() and
// cancel_all() (never destroy the multiplexer).
//
// Thread-safety: none; one per connection, used on the connection's executor.
class multiplexer {
  public:
    using clock_type = std::chrono::steady_clock;

    explicit multiplexer(multiplexer_options options = {});
    ~multiplexer();
    multiplexer(const multiplexer&) = delete;
    multiplexer& operator=(const multiplexer&) = delete;

    // Queues `req` (one or more commands, kept together) for the next write. `now` is
    // when it was queued; `extra_time` extends the reply deadline of is_overdue() for
    // commands that block in Redis on purpose. Returns false when it was refused: then
    // `done` has already been called with error::overloaded (over the caps) or with
    // cancel_all()'s error (the multiplexer is closed).
    bool add(request req, completion done, clock_type::time_point now,
             std::chrono::milliseconds extra_time = std::chrono::milliseconds(0));

    // The bytes not yet written: what an earlier write left over, then every request
    // queued since, as one buffer (this is the pipelining). The requests in it now
    // await their replies; `now` is when their write starts. The view stays valid
    // until the next prepare_write(), and cancel_all() leaves it alone, so a write in
    // flight may keep using it. Empty when there is nothing to write.
    std::string_view prepare_write(clock_type::time_point now);

    // `n` bytes of what prepare_write() returned have been written (at most all of them).
    void commit_write(std::size_t n);

    // Something is to be written now: prepared and not all written, or queued. While a
    // WAIT is unanswered, what is queued waits for it (Redis would not run it before
    // the WAIT returns anyway): then it all goes in one write, under one WAIT.
    bool has_unwritten() const {
        return written_ < buffer_.size() || (!queued_.empty() && !waiting_);
    }
    // A write is under way: prepared bytes are not all committed yet.
    bool is_writing() const { return written_ < buffer_.size(); }

    // Feeds bytes read from the socket; completes every request whose replies are all
    // in, in order. Returns error::protocol_error when the stream cannot be trusted any
    // more (not RESP, or a reply nobody asked for; see broken_reason()): the caller
    // must drop the connection and cancel_all(). Bytes fed after cancel_all() are ignored.
    boost::system::error_code consume(std::string_view bytes);

    // Fails every request queued or awaiting a reply with `why`, oldest first, each
    // once; from then on add() refuses with `why` too: the stream is out of step with
    // the requests, so the connection is done.
    void cancel_all(error why);

    // Whether Redis has stopped answering, judged at `now`: the oldest request awaiting
    // a reply was written more than dead_after (plus its extra_time) ago, a write has
    // not finished within dead_after, or a request has waited that long to be written.
    bool is_overdue(clock_type::time_point now, std::chrono::milliseconds dead_after) const;

    // Requests queued or awaiting replies (or their WAIT), and their encoded bytes.
    std::size_t pending() const { return queued_.size() + awaiting_.size() + held_.size(); }
    std::size_t pending_bytes() const { return pending_bytes_; }
    // Requests not yet in a write.
    std::size_t queued() const { return queued_.size(); }
    bool is_closed() const { return closed_; }

    // Why consume() refused the stream; empty while it is in step.
    const std::string& broken_reason() const { return broken_; }

  private:
    struct entry {
        completion done;
        std::string wire;              // the encoded commands, until they are prepared
        std::size_t bytes = 0;         // wire size, counted in pending_bytes_ until done
        std::size_t expected = 1;      // replies this request waits for
        clock_type::time_point since;  // when queued, then when its write started
        std::chrono::milliseconds extra_time{0};
        reply collected;          // with expected > 1: the replies so far
        std::string too_large;    // why one of its replies was skipped; empty if none was
        bool replicated = false;  // completes after the WAIT of its write
        bool wait = false;        // the WAIT itself (no completion of its own)
    };
    // A replicated request whose reply is in, waiting for its write's WAIT.
    struct held_entry {
        entry e;
        reply r;
    };

    boost::system::error_code refuse_stream(std::string why);
    void finish(entry& e, reply r);

    multiplexer_options options_;
    reply_decoder decoder_;
    std::deque<entry> queued_;     // waiting for the next write
    std::deque<entry> awaiting_;   // in a write or written, waiting for replies, in order
    std::deque<held_entry> held_;  // replied, waiting for the WAIT behind them
    std::size_t pending_bytes_ = 0;
    std::string buffer_;       // what prepare_write() gave, from offset written_
    std::size_t written_ = 0;  // bytes of buffer_ committed
    clock_type::time_point write_started_{};
    bool closed_ = false;
    bool waiting_ = false;  // a WAIT is written and not answered yet
    error closed_why_ = error::closed;
    std::string broken_;
};

}  // namespace sluice::redis
