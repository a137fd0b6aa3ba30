#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace sluice::net {

class tls_server_context;

// The byte stream of one accepted connection: a TCP socket, or TLS over one. Sessions
// and WebSocket transports speak through it and so serve both listeners with one
// code path; the plain path costs nothing over the socket itself (each call returns
// the socket's own operation), and TLS lives in stream.cpp, so no OpenSSL or Asio SSL
// header reaches the files that include this. One thread (the socket's executor).
class stream {
  public:
    using error_code = boost::system::error_code;
    using io_result = std::tuple<error_code, std::size_t>;
    using tcp_socket = boost::asio::ip::tcp::socket;

    explicit stream(tcp_socket socket);
    // TLS, server side: handshake() before anything else.
    stream(tcp_socket socket, std::shared_ptr<tls_server_context> tls);
    stream(stream&&) noexcept;
    stream& operator=(stream&&) noexcept;
    ~stream();

    bool is_tls() const { return tls_ != nullptr; }
    // The TCP layer: endpoints, options, cancel, close.
    tcp_socket& socket() { return tls_ ? tls_socket() : socket_; }
    boost::asio::any_io_executor get_executor() { return socket().get_executor(); }

    // The TLS server handshake (plain: nothing). Cancel or close the socket to give up.
    boost::asio::awaitable<error_code> handshake();
    // The verified client certificate's identity (tls_server_settings::client_identity),
    // after handshake(); empty without one, or when the certificate has no such name.
    const std::string& peer_identity() const { return peer_identity_; }

    boost::asio::awaitable<io_result> read_some(boost::asio::mutable_buffer b) {
        if (!tls_) return socket_.async_read_some(b, use_tuple);
        return tls_read_some(b);
    }

    // Writes all of `buffers`.
    template <typename ConstBuffers>
    boost::asio::awaitable<io_result> write(const ConstBuffers& buffers) {
        if (!tls_) return boost::asio::async_write(socket_, buffers, use_tuple);
        return tls_write(
            std::vector<boost::asio::const_buffer>(boost::asio::buffer_sequence_begin(buffers),
                                                   boost::asio::buffer_sequence_end(buffers)));
    }

    // Writes what the socket takes now without waiting, and says how much (plain).
    // With TLS: 0, and the caller writes everything with write().
    template <typename ConstBuffers>
    std::size_t write_now(const ConstBuffers& buffers, error_code& ec) {
        if (tls_) return 0;
        if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
        if (ec) return 0;
        auto n = socket_.write_some(buffers, ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) ec = {};
        return n;
    }

    // Ends the sending side: TLS sends its close_notify, then TCP half-closes. Never
    // waits for the peer's close_notify; bound it with a deadline that cancels.
    boost::asio::awaitable<void> shutdown_send();

    void cancel() {
        error_code ignored;
        socket().cancel(ignored);
    }
    void close() {
        error_code ignored;
        socket().close(ignored);
    }

  private:
    static constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
    struct tls_layer;

    tcp_socket& tls_socket();
    boost::asio::awaitable<io_result> tls_read_some(boost::asio::mutable_buffer b);
    boost::asio::awaitable<io_result> tls_write(std::vector<boost::asio::const_buffer> buffers);

    tcp_socket socket_;  // the plain connection; with TLS, the TLS layer owns the socket
    std::unique_ptr<tls_layer> tls_;
    std::string peer_identity_;
};

}  // namespace sluice::net
