#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "deliver/subscription.hpp"
#include "deliver/ws_codec.hpp"
#include "deliver/ws_send_queue.hpp"
#include "http/message.hpp"
#include "net/stream.hpp"

namespace sluice::metrics {
class registry;
}

namespace sluice::deliver {

// What the transport needs of the websocket.* settings.
struct ws_transport_limits {
    std::size_t max_message_bytes = 64 * 1024;
    std::size_t max_queued_bytes = 16 * 1024 * 1024;
    std::chrono::milliseconds send_timeout{10'000};
    std::chrono::milliseconds ping_interval{30'000};
};

// What a transport tells the protocol spoken over it. Called on the transport's
// thread, never after on_closed().
class ws_handler {
  public:
    // The handshake was accepted and frames are served from now on.
    virtual void on_open() = 0;
    // A complete text message, valid UTF-8. No further message is read until the
    // returned task ends (so a request that waits on something is answered in order).
    virtual boost::asio::awaitable<void> on_text(std::string_view text) = 0;
    // A complete binary message (its bytes are not handed out).
    virtual void on_binary() = 0;
    // A write carrying the frames of these receipts is over; `written`: it reached the
    // socket (false: the connection failed).
    virtual void on_written(std::span<const frame_receipt> frames, bool written) = 0;
    // These frames were dropped unwritten: the connection is closing.
    virtual void on_unsent(std::span<out_frame> frames) = 0;
    // Nothing more is read (the peer closed, broke the protocol or vanished, or the
    // transport closed); what is still queued may yet be written.
    virtual void on_read_end() = 0;
    // The socket is closed; the transport does nothing more.
    virtual void on_closed() = 0;

  protected:
    ~ws_handler() = default;
};

// The server end of one WebSocket connection (RFC 6455) over a TCP or TLS stream: the
// handshake's answer, framing through ws_codec, reading messages in order and handing
// each to a ws_handler, answering pings (only the latest) and the close handshake,
// and writing from a ws_send_queue with one write in flight carrying every frame
// queued when it starts (large shared bodies in a gathered write). Queued bytes past
// max_queued_bytes and a data frame waiting longer than send_timeout close the
// connection with 1008; a write that does not finish in twice send_timeout cuts it.
// Pings a quiet peer every ping_interval and cuts one silent for two. Owns the socket
// and the connection's lease; knows nothing of what the messages mean. A member of
// the object that implements its handler, which its tasks keep alive through the
// `owner` given to start(). One thread (the socket's executor), nothing locked.
class ws_transport {
  public:
    ws_transport(sluice::net::stream stream, http::connection_lease lease, ws_handler& handler,
                 metrics::registry& metrics, ws_transport_limits limits);
    ~ws_transport();
    ws_transport(const ws_transport&) = delete;
    ws_transport& operator=(const ws_transport&) = delete;

    // Answers the handshake in `req`, then serves frames (`leftover`: bytes read after
    // the request) until the connection closes. `owner` keeps the handler (and so this
    // transport) alive while that runs: the tasks and armed timers hold it, members
    // only a weak_ptr, so there is no cycle.
    // A non-empty `refusal` is sent instead of the handshake's answer (a whole HTTP
    // response), and the connection closes.
    void start(const http::request& req, std::string leftover, std::shared_ptr<void> owner,
               std::string refusal = {});

    // Queues a data frame (closes with 1008 when the queue passes max_queued_bytes).
    // Dropped once closing.
    void send(out_frame f);
    void send_text(std::string text);
    // Starts the close handshake with `code` and `reason`; later calls do nothing.
    void close(std::uint16_t code, std::string_view reason);
    // Drain: 1001, "server shutting down".
    void close_going_away() { close(1001, "server shutting down"); }
    // Shutdown: closes the socket at once.
    void cut();
    // A task of the handler's own (e.g. a fan-out feed) ended with `e`: reported as
    // a defect (see failed()), and the connection closed with 1011 so the client
    // reconnects rather than wait in silence.
    void task_failed(const char* where, std::exception_ptr e);

    bool closing() const { return queue_.closing(); }
    boost::asio::any_io_executor executor() { return stream_.get_executor(); }

  private:
    static std::string handshake_answer(const http::request& req, bool& accepted);
    boost::asio::awaitable<void> serve(std::shared_ptr<void> owner, std::string answer,
                                       bool accepted, std::string leftover);
    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> write_loop(std::shared_ptr<void> owner);
    void keepalive_tick();
    // Over websocket.max_queued_bytes: logs, counts and closes with 1008.
    void overflow();
    // Cuts the socket after `after` unless the timer is re-armed or serve() is over.
    void arm_cut(clock_type::duration after);
    // Ends the connection: TLS close_notify (bounded), half-close, close.
    boost::asio::awaitable<void> finish_socket();
    // A defect escaped this connection's work (`where`): logged with the client and
    // counted in sluice_internal_errors_total{where}. Nothing when `e` is empty.
    void report_defect(const char* where, const std::exception_ptr& e);

    sluice::net::stream stream_;
    http::connection_lease lease_;  // the connection's place in the server's counts
    ws_handler& handler_;
    metrics::registry& metrics_;
    ws_transport_limits limits_;
    ws_frame_reader reader_;
    ws_send_queue queue_;
    std::string in_;
    std::string client_;         // the peer's address, for logs
    std::weak_ptr<void> owner_;  // what start() was given; timers lock it while armed
    boost::asio::steady_timer writer_wake_;
    boost::asio::steady_timer stuck_timer_;
    boost::asio::steady_timer* done_ = nullptr;  // serve() waits on it for the writer to end
    clock_type::time_point last_heard_;
    bool served_ = false;  // serve() is over and the socket closed
    bool writer_running_ = false;
};

}  // namespace sluice::deliver
