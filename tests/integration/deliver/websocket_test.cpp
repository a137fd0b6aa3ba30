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
#include "support/ws_raw_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

using broker = test::delivery_broker;
using test::raw_client;
using test::server_frame;

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

TEST_CASE("a WebSocket counts as a connection for as long as it is open", "[deliver]") {
    // The HTTP session hands its socket and its place in the connection counts to the
    // WebSocket: http.max_connections holds across the upgrade, and a closed WebSocket
    // frees its place.
    test::redis_server redis;
    broker b(redis.url(), "http:\n  max_connections: 2\n");
    std::optional<raw_client> first(std::in_place, b.cfg.port), second(std::in_place, b.cfg.port);
    REQUIRE(first->open());
    REQUIRE(second->open());
    test::http_connection third(b.cfg.port);
    auto refused = third.read_reply();
    CHECK(refused.status == 503);
    CHECK_THAT(refused.body, Contains(R"("code":"too_many_connections")"));
    first->write(frame(fin | op_close, close_payload(1000, "bye")));
    REQUIRE(first->read_op(op_close));
    CHECK(first->wait_closed(5s));
    first.reset();
    // Its place comes back once the broker has closed it.
    auto deadline = clock_type::now() + 5s;
    unsigned status = 0;
    while (clock_type::now() < deadline) {
        try {
            status = test::http_get(b.cfg.port, "/healthz").status;
        } catch (const std::exception&) {
            status = 0;
        }
        if (status == 200) break;
        std::this_thread::sleep_for(20ms);
    }
    CHECK(status == 200);
    second->write(frame(fin | op_ping, "still"));
    CHECK(second->read_op(op_pong));  // the other WebSocket served on
}
