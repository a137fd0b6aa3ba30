#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "deliver/hub.hpp"
#include "deliver/protocol.hpp"
#include "deliver/subscription.hpp"
#include "deliver/ws_transport.hpp"

namespace sluice::deliver {

// One WebSocket connection speaking the protocol of docs/protocol.md over its
// ws_transport: parses client frames in order (a subscribe that needs Redis is
// answered before the next frame is read), holds the connection's subscriptions and
// is their frame_sink, joins and leaves the hub's group readers and tail watches, and
// answers errors with error frames. The connection's one shared owner: the transport
// (socket, lease, framing, send queue) is a member, whose tasks keep the session
// alive until the socket closes; readers and the hub hold raw pointers, valid until
// the subscriptions are dropped (the read side's end) and the hub is told (the
// socket's close). Lives on its hub's thread.
class ws_session final : public frame_sink,
                         public ws_handler,
                         public std::enable_shared_from_this<ws_session> {
  public:
    ws_session(sluice::net::stream stream, hub& h, http::connection_lease lease, ws_access access);
    ~ws_session();

    // Answers the handshake in `req`, then serves frames (`leftover`: bytes the HTTP
    // session read after the request) until the connection closes.
    void start(const http::request& req, std::string leftover);

    // frame_sink: a subscription's frame, queued on the socket.
    void send(out_frame f) override { transport_.send(std::move(f)); }
    void close_going_away() { transport_.close_going_away(); }
    // Shutdown: closes the socket at once (what the drain did not close).
    void cut() { transport_.cut(); }

  private:
    struct entry {
        std::shared_ptr<subscription> sub;
        std::shared_ptr<group_reader> reader;  // null for fan-out
    };

    // ws_handler
    void on_open() override;
    boost::asio::awaitable<void> on_text(std::string_view text) override;
    void on_binary() override;
    void on_written(std::span<const frame_receipt> frames, bool written) override;
    void on_unsent(std::span<out_frame> frames) override;
    void on_read_end() override;
    void on_closed() override;

    boost::asio::awaitable<void> subscribe(const client_frame& f);
    // An `auth` frame: who the socket acts as from now on, if the credential is good.
    void authenticate(const client_frame& f);
    // Until the first `auth` frame (socket opened without credentials), or until the
    // principal expires: then the socket is closed with 4401.
    void arm_auth_deadline();
    // The permission `f` needs, checked against who the socket acts as; an error frame
    // and false when it is missing.
    bool allowed(const client_frame& f);
    void send_error(const frame_error& e);
    void drop(entry& e);

    hub& hub_;
    ws_access access_;
    boost::asio::steady_timer auth_timer_;
    unsigned rate_limited_in_a_row_ = 0;  // subscribes refused by the rate limit
    std::size_t max_subscriptions_;
    ws_transport transport_;
    std::unordered_map<std::string, entry> subs_;
};

}  // namespace sluice::deliver
