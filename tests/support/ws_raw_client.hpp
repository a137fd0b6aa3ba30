#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

// A WebSocket client over a plain blocking socket, for tests that must see exactly
// what the server sends (close codes, pongs) and misbehave as no library would:
// it writes the handshake and frames byte by byte and never reads unless asked.

#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/ws_client.hpp"
#include "support/ws_frames.hpp"

namespace sluice::test {

// A server frame as read off the wire.
struct server_frame {
    bool fin = false;
    std::uint8_t op = 0;
    std::string payload;
    std::uint16_t close_code() const {
        if (payload.size() < 2) return 0;
        return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
    }
};

// A WebSocket client over a plain blocking socket. Every read waits in poll() with a
// deadline, so a test that expects bytes and gets none fails instead of hanging.
class raw_client {
  public:
    // `receive_buffer`: SO_RCVBUF set before connecting (0: the system's default).
    explicit raw_client(std::uint16_t port, int receive_buffer = 0) {
        boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
        socket_.open(ep.protocol());
        if (receive_buffer)
            socket_.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
        socket_.connect(ep);
    }

    // Writes all of `bytes`, waiting in poll(); a server that reads nothing for a
    // minute fails the write (an exception naming the stall) instead of blocking until
    // the test runner's timeout.
    void write(const std::string& bytes) {
        const char* at = bytes.data();
        std::size_t left = bytes.size();
        while (left > 0) {
            pollfd p{socket_.native_handle(), POLLOUT, 0};
            int ready = ::poll(&p, 1, 60'000);
            if (ready == 0) throw std::runtime_error("the server read nothing for 60 s");
            if (ready < 0) throw std::runtime_error("poll failed");
            auto n = ::send(socket_.native_handle(), at, left, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
                throw boost::system::system_error(
                    boost::system::error_code(errno, boost::system::system_category()));
            }
            at += n;
            left -= static_cast<std::size_t>(n);
        }
    }

    // Sends the upgrade request with these header lines; returns the answer's head
    // (status line and headers). What follows it stays for read_frame().
    std::string handshake(const std::string& headers) {
        write(
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
            "Upgrade\r\n" +
            headers + "\r\n");
        return read_head();
    }

    // The head of the server's HTTP answer (status line and headers); what follows it
    // stays for read_frame().
    std::string read_head() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        std::size_t end;
        while ((end = in_.find("\r\n\r\n")) == std::string::npos)
            if (!read_more(deadline)) return in_;
        auto head = in_.substr(0, end + 2);
        in_.erase(0, end + 4);
        return head;
    }

    // Handshakes with a good key; false unless the answer is 101.
    bool open() {
        auto head = handshake(
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
        return head.starts_with("HTTP/1.1 101 ");
    }

    // The next frame, or nothing when none came within `wait` or the connection ended.
    std::optional<server_frame> read_frame(
        std::chrono::milliseconds wait = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        for (;;) {
            if (auto f = parse()) return f;
            if (!read_more(deadline)) return std::nullopt;
        }
    }

    // The next frame with opcode `op` (pings and others skipped).
    std::optional<server_frame> read_op(std::uint8_t op,
                                        std::chrono::milliseconds wait = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto f = read_frame(left);
            if (!f || f->op == op) return f;
            skipped.push_back(std::move(*f));
        }
    }

    // The next text frame whose "op" member is `op`.
    std::optional<std::string> read_text_op(
        const std::string& op, std::chrono::milliseconds wait = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            auto f = read_op(frame_bits::op_text, left);
            if (!f) return std::nullopt;
            if (test::json_string(f->payload, "op") == op) return f->payload;
        }
    }

    // True when the server ended the connection (EOF or reset) within `wait`; the
    // frames read meanwhile are in `skipped`.
    bool wait_closed(std::chrono::milliseconds wait) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        for (;;) {
            while (auto f = parse()) skipped.push_back(std::move(*f));
            if (!read_more(deadline)) return ended_;
        }
    }

    bool ended() const { return ended_; }

    std::vector<server_frame> skipped;

  private:
    // Appends what arrives before `deadline`; false on timeout or end of stream.
    bool read_more(std::chrono::steady_clock::time_point deadline) {
        if (ended_) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) left = std::chrono::milliseconds(0);
        pollfd p{socket_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[64 * 1024];
        boost::system::error_code ec;
        auto n = socket_.read_some(boost::asio::buffer(chunk), ec);
        if (ec) {
            ended_ = true;
            return false;
        }
        in_.append(chunk, n);
        return true;
    }

    std::optional<server_frame> parse() {
        const auto* p = reinterpret_cast<const unsigned char*>(in_.data());
        if (in_.size() < 2) return std::nullopt;
        server_frame f;
        f.fin = p[0] & 0x80;
        f.op = p[0] & 0x0F;
        if (p[0] & 0x70) FAIL_CHECK("a server frame with reserved bits set");
        if (p[1] & 0x80) FAIL_CHECK("a masked server frame");
        std::uint64_t len = p[1] & 0x7F;
        std::size_t at = 2;
        if (len == 126) {
            if (in_.size() < 4) return std::nullopt;
            len = (std::uint64_t(p[2]) << 8) | p[3];
            at = 4;
        } else if (len == 127) {
            if (in_.size() < 10) return std::nullopt;
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
            at = 10;
        }
        if (in_.size() < at + len) return std::nullopt;
        f.payload = in_.substr(at, len);
        in_.erase(0, at + len);
        return f;
    }

    boost::asio::io_context ctx_;
    boost::asio::ip::tcp::socket socket_{ctx_};
    std::string in_;
    bool ended_ = false;
};

}  // namespace sluice::test
