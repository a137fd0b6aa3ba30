#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "deliver/hub.hpp"
#include "deliver/protocol.hpp"
#include "deliver/subscription.hpp"

namespace sluice::deliver {

// One WebSocket connection speaking the protocol of docs/protocol.md: reads client
// frames in order (a subscribe that needs Redis is answered before the next frame is
// read), and writes server frames from a queue, one write in flight. The queue is
// bounded by the subscriptions' windows; a socket whose queued frames wait longer
// than the send timeout is closed (1008), one whose write does not finish in twice
// that is cut. Lives on its hub's I/O thread.
class ws_session : public frame_sink, public std::enable_shared_from_this<ws_session> {
  public:
    ws_session(boost::asio::ip::tcp::socket& socket, hub& h);
    ~ws_session();

    boost::asio::awaitable<void> run(const http::request& req);

    void send(out_frame f) override;
    void close_going_away();

  private:
    struct entry {
        std::shared_ptr<subscription> sub;
        std::shared_ptr<group_reader> reader;  // null for fan-out
    };

    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> write_loop();
    boost::asio::awaitable<void> handle(std::string_view text);
    boost::asio::awaitable<void> subscribe(const client_frame& f);
    void send_text(std::string text);
    void send_error(const frame_error& e);
    void drop(entry& e);
    void close_with(boost::beast::websocket::close_code code, std::string reason);

    boost::asio::ip::tcp::socket& socket_;
    hub& hub_;
    websocket_limits limits_;
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket&> ws_;
    boost::beast::flat_buffer in_;
    struct queued {
        out_frame frame;
        clock_type::time_point at;
    };
    std::deque<queued> queue_;
    boost::asio::steady_timer writer_wake_;
    boost::asio::steady_timer stuck_timer_;
    boost::asio::steady_timer writer_done_;
    std::unordered_map<std::string, entry> subs_;
    bool closing_ = false;
    bool writer_running_ = false;
    boost::beast::websocket::close_reason close_reason_;
};

}  // namespace sluice::deliver
