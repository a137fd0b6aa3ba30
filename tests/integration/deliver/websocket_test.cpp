// The WebSocket framing of GET /v1/ws against the real binary: a raw TCP client that
// writes the handshake and masked frames byte by byte, so the tests see exactly what
// the server sends (close codes, pongs) and can misbehave as no library would.
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <thread>

#include "integration/deliver/delivery_broker.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"
#include "support/ws_frames.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;

using broker = test::delivery_broker;

using namespace test::frame_bits;

// A masked client frame (unmasked with `masked` false).
std::string frame(std::uint8_t first, std::string_view payload, bool masked = true) {
    return test::client_frame(first, payload, masked);
}

std::string text(std::string_view payload) {
    return frame(fin | op_text, payload);
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
    std::string out;
    out += static_cast<char>(code >> 8);
    out += static_cast<char>(code & 0xFF);
    out += reason;
    return out;
}

std::string subscribe_frame(const std::string& id, const std::string& extra = {}) {
    return R"({"op":"subscribe","id":")" + id + R"(","type":"user.created")" + extra + "}";
}

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
        net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
        socket_.open(ep.protocol());
        if (receive_buffer)
            socket_.set_option(net::socket_base::receive_buffer_size(receive_buffer));
        socket_.connect(ep);
    }

    void write(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

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
        auto deadline = clock_type::now() + 5s;
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
    std::optional<server_frame> read_frame(std::chrono::milliseconds wait = 5s) {
        auto deadline = clock_type::now() + wait;
        for (;;) {
            if (auto f = parse()) return f;
            if (!read_more(deadline)) return std::nullopt;
        }
    }

    // The next frame with opcode `op` (pings and others skipped).
    std::optional<server_frame> read_op(std::uint8_t op, std::chrono::milliseconds wait = 5s) {
        auto deadline = clock_type::now() + wait;
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return std::nullopt;
            auto f = read_frame(left);
            if (!f || f->op == op) return f;
            skipped.push_back(std::move(*f));
        }
    }

    // The next text frame whose "op" member is `op`.
    std::optional<std::string> read_text_op(const std::string& op,
                                            std::chrono::milliseconds wait = 5s) {
        auto deadline = clock_type::now() + wait;
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return std::nullopt;
            auto f = read_op(op_text, left);
            if (!f) return std::nullopt;
            if (test::json_string(f->payload, "op") == op) return f->payload;
        }
    }

    // True when the server ended the connection (EOF or reset) within `wait`; the
    // frames read meanwhile are in `skipped`.
    bool wait_closed(std::chrono::milliseconds wait) {
        auto deadline = clock_type::now() + wait;
        for (;;) {
            while (auto f = parse()) skipped.push_back(std::move(*f));
            if (!read_more(deadline)) return ended_;
        }
    }

    bool ended() const { return ended_; }

    std::vector<server_frame> skipped;

  private:
    // Appends what arrives before `deadline`; false on timeout or end of stream.
    bool read_more(clock_type::time_point deadline) {
        if (ended_) return false;
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() < 0) left = 0ms;
        pollfd p{socket_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[64 * 1024];
        boost::system::error_code ec;
        auto n = socket_.read_some(net::buffer(chunk), ec);
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

    net::io_context ctx_;
    net::ip::tcp::socket socket_{ctx_};
    std::string in_;
    bool ended_ = false;
};

// The value of header `name` in a response head, or "".
std::string header_of(const std::string& head, const std::string& name) {
    auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
}

// Polls /metrics until it contains `needle`.
bool metrics_show(std::uint16_t port, const std::string& needle, std::chrono::milliseconds wait) {
    auto deadline = clock_type::now() + wait;
    do {
        if (test::http_get(port, "/metrics").body.find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    } while (clock_type::now() < deadline);
    return false;
}

}  // namespace

TEST_CASE("a WebSocket handshake without a good key or version 13 is answered 400", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    auto attempt = [&](const std::string& headers, const std::string& problem) {
        INFO("headers: " << headers);
        test::http_connection c(b.cfg.port);
        c.send(
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
            "Upgrade\r\n" +
            headers + "\r\n");
        auto r = c.read_reply();
        CHECK(r.status == 400);
        CHECK(r.header("Sec-WebSocket-Version") == "13");
        CHECK_THAT(r.body, Contains(problem));
        CHECK(c.closed_by_peer(2s));
    };
    attempt("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key");
    attempt("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Version must be 13");
    attempt("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
            "Sec-WebSocket-Version must be 13");
    attempt("Sec-WebSocket-Key: not-a-key\r\nSec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key");
    // The broker still serves handshakes after the bad ones.
    raw_client ok(b.cfg.port);
    CHECK(ok.open());
}

TEST_CASE("the 101 answer carries the Sec-WebSocket-Accept of the client's key", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client rfc(b.cfg.port);
    auto head = rfc.handshake(
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
    CHECK_THAT(head, StartsWith("HTTP/1.1 101 "));
    CHECK(header_of(head, "Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(header_of(head, "Upgrade") == "websocket");
    CHECK(header_of(head, "Connection") == "Upgrade");

    raw_client other(b.cfg.port);
    head = other.handshake(
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n");
    CHECK_THAT(head, StartsWith("HTTP/1.1 101 "));
    CHECK(header_of(head, "Sec-WebSocket-Accept") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");

    // A frame sent right behind the request (in the same write) is not lost.
    raw_client eager(b.cfg.port);
    eager.write(
        "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: "
        "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n" +
        frame(fin | op_ping, "early"));
    CHECK_THAT(eager.read_head(), StartsWith("HTTP/1.1 101 "));
    auto pong = eager.read_op(op_pong);
    REQUIRE(pong);
    CHECK(pong->payload == "early");
}

TEST_CASE("a subscribe in fragments, with a ping in between, is one message", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    auto sub = subscribe_frame("frag");
    // Each fragment in a write of its own, so the server sees them apart.
    c.write(frame(op_text, sub.substr(0, 10)));
    std::this_thread::sleep_for(20ms);
    c.write(frame(fin | op_ping, "between"));
    std::this_thread::sleep_for(20ms);
    c.write(frame(op_cont, sub.substr(10, 15)));
    std::this_thread::sleep_for(20ms);
    c.write(frame(fin | op_cont, sub.substr(25)));
    auto pong = c.read_frame();
    REQUIRE(pong);
    CHECK(pong->op == op_pong);
    CHECK(pong->payload == "between");
    auto subscribed = c.read_text_op("subscribed");
    REQUIRE(subscribed);
    CHECK(test::json_string(*subscribed, "id") == "frag");

    b.publish(1);
    auto event = c.read_text_op("event");
    REQUIRE(event);
    CHECK(test::json_string(*event, "sub") == "frag");
    CHECK_THAT(*event, Contains("u1@example.com"));
}

TEST_CASE("a ping is answered with a pong carrying the same payload", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    std::string binary_payload("\x00\xFFping\r\n", 8);
    for (const std::string& payload :
         {std::string("hello-123"), std::string(), binary_payload, std::string(125, 'p')}) {
        INFO("ping of " << payload.size() << " bytes");
        c.write(frame(fin | op_ping, payload));
        auto pong = c.read_op(op_pong);
        REQUIRE(pong);
        CHECK(pong->fin);
        CHECK(pong->payload == payload);
    }
    // An unsolicited pong is ignored, the socket stays open.
    c.write(frame(fin | op_pong, "unasked"));
    c.write(frame(fin | op_ping, "still here"));
    auto pong = c.read_op(op_pong);
    REQUIRE(pong);
    CHECK(pong->payload == "still here");
}

TEST_CASE("a binary frame gets an invalid_frame error and the socket stays usable", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    c.write(frame(fin | op_binary, subscribe_frame("bin")));
    auto error = c.read_text_op("error");
    REQUIRE(error);
    CHECK(test::json_string(*error, "code") == "invalid_frame");
    CHECK_THAT(*error, Contains("binary"));

    c.write(text(subscribe_frame("txt")));
    auto subscribed = c.read_text_op("subscribed");
    REQUIRE(subscribed);
    CHECK(test::json_string(*subscribed, "id") == "txt");
}

TEST_CASE("an unmasked frame closes the connection with 1002", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    c.write(frame(fin | op_text, subscribe_frame("s"), false));
    auto close = c.read_op(op_close);
    REQUIRE(close);
    CHECK(close->close_code() == 1002);
    CHECK_THAT(close->payload, Contains("masked"));
    // The server does not wait for our close frame forever.
    CHECK(c.wait_closed(5s));
    CHECK(metrics_show(b.cfg.port, "sluice_websocket_connections 0", 5s));
}

TEST_CASE("a text message that is not UTF-8 closes the connection with 1007", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    // Valid UTF-8 split across fragments is fine: the check is on the whole message.
    auto subscribe = subscribe_frame("s");
    subscribe.insert(subscribe.size() - 1, ",\"note\":\"caf\xC3\xA9\"");
    auto cut = subscribe.find('\xC3') + 1;
    c.write(frame(op_text, subscribe.substr(0, cut)));
    c.write(frame(fin | op_cont, subscribe.substr(cut)));
    REQUIRE(c.read_text_op("subscribed"));
    c.write(text(std::string("{\"op\":\"ping\xFF\"}")));
    auto close = c.read_op(op_close);
    REQUIRE(close);
    CHECK(close->close_code() == 1007);
    CHECK(c.wait_closed(5s));
}

TEST_CASE("a message over websocket.max_message_bytes closes the connection with 1009",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "websocket:\n  max_message_bytes: 1KiB\n");

    // At the limit: fine (a subscribe padded with spaces to 1024 bytes).
    raw_client at(b.cfg.port);
    REQUIRE(at.open());
    auto padded = subscribe_frame("big");
    padded.insert(padded.size() - 1, 1024 - padded.size(), ' ');
    REQUIRE(padded.size() == 1024);
    at.write(text(padded));
    REQUIRE(at.read_text_op("subscribed"));

    SECTION("one frame") {
        raw_client over(b.cfg.port);
        REQUIRE(over.open());
        over.write(text(std::string(1025, ' ')));
        auto close = over.read_op(op_close);
        REQUIRE(close);
        CHECK(close->close_code() == 1009);
        CHECK(over.wait_closed(5s));
    }
    SECTION("fragments that add up past the limit") {
        raw_client over(b.cfg.port);
        REQUIRE(over.open());
        over.write(frame(op_text, std::string(600, ' ')));
        over.write(frame(op_cont, std::string(400, ' ')));
        over.write(frame(fin | op_cont, std::string(100, ' ')));
        auto close = over.read_op(op_close);
        REQUIRE(close);
        CHECK(close->close_code() == 1009);
        CHECK(over.wait_closed(5s));
    }
    SECTION("a header announcing more, before any payload") {
        raw_client over(b.cfg.port);
        REQUIRE(over.open());
        over.write(frame(fin | op_text, std::string(100'000, ' ')).substr(0, 14));
        auto close = over.read_op(op_close);
        REQUIRE(close);
        CHECK(close->close_code() == 1009);
    }
    // The other connection is untouched.
    at.write(frame(fin | op_ping, "ok"));
    auto pong = at.read_op(op_pong);
    REQUIRE(pong);
    CHECK(pong->payload == "ok");
}

TEST_CASE("a client's close 1000 is answered with a close frame, then the server hangs up",
          "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "");
    raw_client c(b.cfg.port);
    REQUIRE(c.open());
    c.write(text(subscribe_frame("s", R"(,"group":"g")")));
    REQUIRE(c.read_text_op("subscribed"));
    REQUIRE(metrics_show(b.cfg.port, "sluice_websocket_subscriptions 1", 5s));

    c.write(frame(fin | op_close, close_payload(1000, "bye")));
    auto close = c.read_op(op_close);
    REQUIRE(close);
    CHECK(close->close_code() == 1000);
    CHECK(c.wait_closed(5s));
    CHECK(metrics_show(b.cfg.port, "sluice_websocket_connections 0", 5s));
    CHECK(metrics_show(b.cfg.port, "sluice_websocket_subscriptions 0", 5s));

    // A close without a code is answered with 1000 as well.
    raw_client bare(b.cfg.port);
    REQUIRE(bare.open());
    bare.write(frame(fin | op_close, ""));
    auto bare_close = bare.read_op(op_close);
    REQUIRE(bare_close);
    CHECK(bare_close->close_code() == 1000);
    CHECK(bare.wait_closed(5s));
}

TEST_CASE("a client that answers no pings is closed, one that does stays", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "websocket:\n  ping_interval: 200ms\n");
    test::ws_client live(b.cfg.port);  // Beast answers pings while it reads
    live.send(subscribe_frame("live"));
    REQUIRE(live.receive_op("subscribed"));

    raw_client silent(b.cfg.port);
    REQUIRE(silent.open());
    silent.write(text(subscribe_frame("silent")));
    auto start = clock_type::now();
    // From here on the raw client sends nothing. Reading what the server sends tells
    // the server nothing, so it reads only to see the end of the connection.
    REQUIRE(silent.wait_closed(1500ms));
    auto took = clock_type::now() - start;
    CHECK(took < 1200ms);
    CHECK(took >= 350ms);  // two intervals of silence, not one
    bool pinged = false;
    for (const auto& f : silent.skipped) pinged = pinged || f.op == op_ping;
    CHECK(pinged);
    CHECK(b.process->wait_for_output("no answer to pings", 2s));

    // The Beast client was pinged all along and answered: still open a second later,
    // and served.
    std::this_thread::sleep_for(1s);
    REQUIRE_FALSE(live.wait_closed(0ms));
    live.send(R"({"op":"unsubscribe","sub":"live"})");
    CHECK(live.receive_op("unsubscribed"));
}

TEST_CASE("a subscriber that stops reading is closed after websocket.send_timeout", "[deliver]") {
    test::redis_server redis;
    broker b(redis.url(), "websocket:\n  send_timeout: 300ms\n");
    // A small receive buffer, so the server's writes back up soon.
    raw_client c(b.cfg.port, 4096);
    REQUIRE(c.open());
    c.write(text(subscribe_frame("slow", R"(,"window":10000)")));
    REQUIRE(c.read_text_op("subscribed"));
    REQUIRE(metrics_show(b.cfg.port, "sluice_websocket_subscriptions 1", 5s));

    // The client reads nothing more. ~20000 events of ~600 bytes as frames: far more
    // than the socket buffers hold.
    for (int batch = 0; batch < 20; ++batch) b.publish_batch(batch * 1000, 1000);

    // Watched from outside: the broker drops the connection within a few seconds.
    CHECK(metrics_show(b.cfg.port, "sluice_websocket_connections 0", 5s));
    CHECK(b.process->wait_for_output("the client does not read its frames", 1s));

    // The client now sees its frames, then the end; a close frame, if one found room,
    // says 1008.
    CHECK(c.wait_closed(10s));
    std::size_t events = 0;
    for (const auto& f : c.skipped) {
        if (f.op == op_text) ++events;
        if (f.op == op_close) CHECK(f.close_code() == 1008);
    }
    CHECK(events > 0);
    CHECK(events < 20000);
}
