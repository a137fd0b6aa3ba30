#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "deliver/hub.hpp"
#include "deliver/protocol.hpp"
#include "deliver/subscription.hpp"
#include "deliver/ws_codec.hpp"

namespace sluice::deliver {

// One WebSocket connection speaking the protocol of docs/protocol.md, framed by
// ws_codec over the connection's own socket. Reads client frames in order (a
// subscribe that needs Redis is answered before the next frame is read). Writes from
// a queue bounded by the subscriptions' windows: one write in flight, carrying every
// frame queued when it starts, so a burst costs one syscall, not one per event.
// A socket whose queued frames wait longer than the send timeout, or whose queued
// bytes pass websocket.max_queued_bytes, is closed (1008); one whose write does not
// finish in twice the send timeout is cut. Owns its socket and the connection's
// lease, handed over by the HTTP session at the upgrade (which then ends), so an open
// WebSocket keeps no HTTP session alive. Lives on its hub's thread.
class ws_session : public frame_sink, public std::enable_shared_from_this<ws_session> {
  public:
    ws_session(boost::asio::ip::tcp::socket socket, hub& h, http::connection_lease lease);
    ~ws_session();

    // Answers the handshake in `req`, then serves frames (`leftover`: bytes the HTTP
    // session read after the request) until the connection closes.
    void start(http::request req, std::string leftover);

    void send(out_frame f) override;
    void close_going_away();
    // Shutdown: closes the socket at once (what the drain did not close).
    void cut();

  private:
    struct entry {
        std::shared_ptr<subscription> sub;
        std::shared_ptr<group_reader> reader;  // null for fan-out
    };
    struct queued {
        out_frame frame;
        clock_type::time_point at;
    };

    static std::string handshake_answer(const http::request& req, bool& accepted);
    boost::asio::awaitable<void> serve(std::shared_ptr<ws_session> self, std::string answer,
                                       bool accepted, std::string leftover);
    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> write_loop();
    void keepalive_tick();
    boost::asio::awaitable<void> handle(std::string_view text);
    boost::asio::awaitable<void> subscribe(const client_frame& f);
    void send_text(std::string text);
    void send_error(const frame_error& e);
    void send_control(ws_opcode op, std::string_view payload);
    void drop(entry& e);
    void close_with(std::uint16_t code, std::string_view reason);
    // Over websocket.max_queued_bytes: logs, counts and closes with 1008.
    void overflow();
    static std::size_t frame_bytes(const out_frame& f);
    void drop_queue();

    boost::asio::ip::tcp::socket socket_;
    hub& hub_;
    http::connection_lease lease_;  // the connection's place in the server's counts
    websocket_limits limits_;
    ws_frame_reader reader_;
    std::string in_;
    std::string out_;  // the bytes of the write in flight
    // Shared event bodies written in place within it: each goes at its offset in out_.
    std::vector<std::pair<std::size_t, std::shared_ptr<const std::string>>> pieces_;
    std::string control_;              // control frames waiting, written before data frames
    std::optional<std::string> pong_;  // the answer to the latest ping, not yet written
    std::size_t queued_bytes_ = 0;     // of the data frames in queue_ from queue_head_
    std::vector<queued> queue_;        // data frames from queue_head_
    std::size_t queue_head_ = 0;
    boost::asio::steady_timer writer_wake_;
    boost::asio::steady_timer stuck_timer_;
    boost::asio::steady_timer* done_ = nullptr;  // serve() waits on it for the writer to end
    std::unordered_map<std::string, entry> subs_;
    clock_type::time_point last_heard_;
    bool closing_ = false;  // no more data frames; a close frame is queued or sent
    bool close_written_ = false;
    bool served_ = false;  // serve() is over and the socket closed
    bool writer_running_ = false;
};

}  // namespace sluice::deliver
