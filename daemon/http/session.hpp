#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "http/message.hpp"
#include "http/shared_state.hpp"

namespace sluice::http {

// One HTTP/1.1 connection: reads requests (keep-alive, pipelined requests answered
// in order), dispatches them, writes responses. Every wait has a deadline: idle
// (between requests), read (one request), write (one response). Lives on the I/O
// thread that accepted it; its methods must be called there.
class session : public std::enable_shared_from_this<session> {
  public:
    session(boost::asio::ip::tcp::socket socket, shared_state& state);

    boost::asio::awaitable<void> run();

    // Drain: closes the connection if it is waiting for a next request; otherwise
    // the response in progress goes out with `Connection: close`.
    void close_if_idle();

    // Shutdown after the grace period: cancels whatever the session is doing.
    void force_close();

  private:
    enum class phase { idle, reading, handling, writing, upgraded };

    void arm(std::chrono::milliseconds timeout);
    void disarm();

    // Writes `res` (header only for HEAD) under the write deadline. False on failure.
    boost::asio::awaitable<bool> write(response& res, bool head_only);

    // Answers a request that could not be read (413, 431, 408, 400) and closes.
    boost::asio::awaitable<void> reject(const problem& p);

    // Half-closes and swallows what the client still sends, within bounds.
    boost::asio::awaitable<void> linger_close();

    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
    boost::asio::steady_timer timer_;
    shared_state& state_;
    std::uint64_t timer_generation_ = 0;
    bool timed_out_ = false;
    std::uint64_t served_ = 0;  // responses written
    phase phase_ = phase::idle;
};

}  // namespace sluice::http
