#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <string>

#include "http/connection_lease.hpp"
#include "http/message.hpp"
#include "http/shared_state.hpp"
#include "net/stream.hpp"

namespace sluice::http {

// One HTTP/1.1 connection: reads requests (keep-alive, pipelined requests answered
// in order), dispatches them, writes responses. Every wait has a deadline: idle
// (between requests), read (one request), write (one response). Lives on the I/O
// thread that accepted it; its methods must be called there. Its requests get what
// that thread lends (`worker`, which outlives the session).
class session : public std::enable_shared_from_this<session> {
  public:
    // `admin`: accepted on the admin listener (admin_listen). A TLS stream's
    // handshake is the session's first step, under the first-byte deadline.
    session(sluice::net::stream stream, shared_state& state, const worker_slot& worker,
            connection_lease lease, bool admin = false);

    boost::asio::awaitable<void> run();

    // Drain: closes the connection if it is waiting for a next request; otherwise
    // the response in progress goes out with `Connection: close`.
    void close_if_idle();

    // Shutdown after the grace period: cancels whatever the session is doing.
    void force_close();

  private:
    enum class phase { idle, reading, handling, writing, upgraded };
    std::string client_;  // the peer's address, for rate limits
    bool admin_ = false;  // accepted on the admin listener

    // The one deadline of whatever the session waits for now (idle, read, write):
    // past it, the socket's operations are cancelled and timed_out_ is set.
    void arm(std::chrono::milliseconds timeout);
    void disarm();
    void start_timer();

    // The status line and header fields of `res` into head_, with Server,
    // Content-Length and Connection.
    void format_head(const response& res, bool keep_alive);

    // Writes `res` (header only for HEAD) under the write deadline. False on failure.
    boost::asio::awaitable<bool> write(const response& res, bool keep_alive, bool head_only);

    // Answers a request that could not be read (413, 431, 408, 400) and closes.
    boost::asio::awaitable<void> reject(const problem& p);

    // Half-closes and swallows what the client still sends, within bounds.
    boost::asio::awaitable<void> linger_close();

    sluice::net::stream stream_;
    boost::beast::flat_buffer buffer_;
    // Where a request's header fields live: released before each request, so a
    // connection's requests reuse one buffer (larger headers spill to the heap).
    alignas(std::max_align_t) char fields_buffer_[2048];
    std::pmr::monotonic_buffer_resource fields_{fields_buffer_, sizeof fields_buffer_};
    std::string head_;  // the response head being written
    boost::asio::steady_timer timer_;
    shared_state& state_;
    const worker_slot& worker_;
    connection_lease lease_;  // handed on with the socket by an upgrade
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    // With TLS: when the handshake and the first request together must be in.
    std::chrono::steady_clock::time_point handshake_deadline_{};
    bool timer_waiting_ = false;  // a wait is pending on timer_ (due at its expiry)
    bool timed_out_ = false;
    std::uint64_t served_ = 0;  // responses written
    phase phase_ = phase::idle;
};

}  // namespace sluice::http
