#include "deliver/ws_codec.hpp"

#include "support/ws_frames.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

using namespace sluice::deliver;

namespace {

using result = ws_frame_reader::result;

std::string bytes(std::initializer_list<int> list) {
    std::string out;
    for (int b : list) out += static_cast<char>(b);
    return out;
}

using sluice::test::client_frame;

using namespace sluice::test::frame_bits;

// What the reader handed out, copied (its payload views die on the next call).
struct seen {
    result r;
    ws_opcode op;
    std::string payload;
    bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen& s) {
    return os << "{result " << static_cast<int>(s.r) << ", op " << static_cast<int>(s.op) << ", "
              << s.payload.size() << " bytes}";
}

// Calls next() until it needs more bytes or fails; returns everything it handed out
// (an error included, as the last item).
std::vector<seen> drain(ws_frame_reader& reader, std::string& buffer) {
    std::vector<seen> out;
    for (;;) {
        ws_frame_reader::event ev;
        auto r = reader.next(buffer, ev);
        if (r == result::need_more) return out;
        if (r == result::error) {
            out.push_back({r, ws_opcode::continuation, {}});
            return out;
        }
        out.push_back({r, ev.op, std::string(ev.payload)});
    }
}

// Feeds `wire` into a fresh reader in one go.
std::vector<seen> read_all(const std::string& wire, std::size_t max = 1 << 20) {
    ws_frame_reader reader(max);
    std::string buffer = wire;
    return drain(reader, buffer);
}

// The close code a reader reports for `wire` (0 when it reports no error).
std::uint16_t error_of(const std::string& wire, std::size_t max = 1 << 20) {
    ws_frame_reader reader(max);
    std::string buffer = wire;
    auto got = drain(reader, buffer);
    if (got.empty() || got.back().r != result::error) return 0;
    CHECK_FALSE(reader.error_text.empty());
    return reader.close_code;
}

seen message(ws_opcode op, std::string payload) {
    return {result::message, op, std::move(payload)};
}

seen control(ws_opcode op, std::string payload) {
    return {result::control, op, std::move(payload)};
}

std::string header_of(ws_opcode op, std::size_t size) {
    std::string out;
    append_ws_frame_header(out, op, size);
    return out;
}

}  // namespace

TEST_CASE("the accept key of the RFC 6455 example", "[unit][deliver]") {
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("a client key is 16 bytes in base64", "[unit][deliver]") {
    CHECK(ws_valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(ws_valid_client_key("AAAAAAAAAAAAAAAAAAAAAA=="));
    CHECK(ws_valid_client_key("+/+/+/+/+/+/+/+/+/+/+w=="));
    for (const char* bad : {"",
                            "dGhlIHNhbXBsZSBub25jZQ=",    // 23 characters
                            "dGhlIHNhbXBsZSBub25jZQ===",  // 25
                            "dGhlIHNhbXBsZSBub25jZQ",     // no padding
                            "dGhlIHNhbXBsZSBub25jZQAA",   // 18 bytes, not 16
                            "dGhlIHNhbXBsZSBub25jZ===",   // padding too early
                            "dGhlIHNhbXBsZSBub25jZ-==",   // base64url
                            "dGhlIHNhbXBsZSBub25jZ_==",   // base64url
                            "dGhlIHNhbXBsZSBub25j Q==",   // a space
                            " dGhlIHNhbXBsZSBub25jZQ==",  // leading space
                            "dGhlIHNhbXBsZSBub25jZQ==\n"}) {
        INFO("key: \"" << bad << "\"");
        CHECK_FALSE(ws_valid_client_key(bad));
    }
}

TEST_CASE("frame headers use the shortest length encoding", "[unit][deliver]") {
    CHECK(header_of(ws_opcode::text, 0) == bytes({0x81, 0x00}));
    CHECK(header_of(ws_opcode::text, 1) == bytes({0x81, 0x01}));
    CHECK(header_of(ws_opcode::text, 125) == bytes({0x81, 0x7D}));
    CHECK(header_of(ws_opcode::text, 126) == bytes({0x81, 0x7E, 0x00, 0x7E}));
    CHECK(header_of(ws_opcode::text, 256) == bytes({0x81, 0x7E, 0x01, 0x00}));
    CHECK(header_of(ws_opcode::text, 65535) == bytes({0x81, 0x7E, 0xFF, 0xFF}));
    CHECK(header_of(ws_opcode::text, 65536) ==
          bytes({0x81, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
    CHECK(header_of(ws_opcode::text, 0x0102030405ULL) ==
          bytes({0x81, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05}));
}

TEST_CASE("frame headers are final and carry the opcode", "[unit][deliver]") {
    CHECK(header_of(ws_opcode::binary, 3) == bytes({0x82, 0x03}));
    CHECK(header_of(ws_opcode::close, 2) == bytes({0x88, 0x02}));
    CHECK(header_of(ws_opcode::ping, 0) == bytes({0x89, 0x00}));
    CHECK(header_of(ws_opcode::pong, 4) == bytes({0x8A, 0x04}));
    // Appends: what is in the buffer stays.
    std::string out = "ab";
    append_ws_frame_header(out, ws_opcode::text, 5);
    CHECK(out == "ab" + bytes({0x81, 0x05}));
}

TEST_CASE("a close frame holds the code in network order and the reason", "[unit][deliver]") {
    std::string out;
    append_ws_close_frame(out, 1000, "");
    CHECK(out == bytes({0x88, 0x02, 0x03, 0xE8}));

    out.clear();
    append_ws_close_frame(out, 1008, "bye");
    CHECK(out == bytes({0x88, 0x05, 0x03, 0xF0}) + "bye");

    out.clear();
    append_ws_close_frame(out, 1009, std::string(123, 'r'));
    CHECK(out == bytes({0x88, 0x7D, 0x03, 0xF1}) + std::string(123, 'r'));
}

TEST_CASE("a close reason is cut so the payload fits 125 bytes", "[unit][deliver]") {
    for (std::size_t length : {124, 125, 126, 200, 5000}) {
        INFO("reason of " << length << " bytes");
        std::string reason;
        for (std::size_t i = 0; i < length; ++i) reason += static_cast<char>('a' + i % 26);
        std::string out;
        append_ws_close_frame(out, 1001, reason);
        REQUIRE(out.size() == 2 + 125);
        CHECK(out.substr(0, 4) == bytes({0x88, 0x7D, 0x03, 0xE9}));
        CHECK(out.substr(4) == reason.substr(0, 123));
    }
}

TEST_CASE("the reader unmasks a single text frame", "[unit][deliver]") {
    ws_frame_reader reader(1024);
    std::string buffer = client_frame(fin | op_text, "Hello");
    ws_frame_reader::event ev;
    REQUIRE(reader.next(buffer, ev) == result::message);
    CHECK(ev.op == ws_opcode::text);
    CHECK(ev.payload == "Hello");
    // The frame's bytes leave the buffer on the next call.
    CHECK(reader.next(buffer, ev) == result::need_more);
    CHECK(buffer.empty());

    // The RFC's own example: a masked "Hello".
    buffer = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    REQUIRE(reader.next(buffer, ev) == result::message);
    CHECK(ev.payload == "Hello");

    CHECK(read_all(client_frame(fin | op_text, "")) ==
          std::vector<seen>{message(ws_opcode::text, "")});
    CHECK(read_all(client_frame(fin | op_binary, bytes({0, 1, 0xFF}))) ==
          std::vector<seen>{message(ws_opcode::binary, bytes({0, 1, 0xFF}))});
}

TEST_CASE("the reader waits for the rest of a frame split anywhere", "[unit][deliver]") {
    std::string text_300(300, 'x');
    for (std::size_t i = 0; i < text_300.size(); ++i) text_300[i] = static_cast<char>('a' + i % 26);
    std::string wire = client_frame(fin | op_text, "first") +
                       client_frame(fin | op_text, text_300) + client_frame(op_text, "frag-") +
                       client_frame(fin | op_ping, "are you there") +
                       client_frame(fin | op_cont, "ment") +
                       client_frame(fin | op_binary, std::string(70'000, 'b')) +
                       client_frame(fin | op_close, bytes({0x03, 0xE8}));
    std::vector<seen> expected{message(ws_opcode::text, "first"),
                               message(ws_opcode::text, text_300),
                               control(ws_opcode::ping, "are you there"),
                               message(ws_opcode::text, "frag-ment"),
                               message(ws_opcode::binary, std::string(70'000, 'b')),
                               control(ws_opcode::close, bytes({0x03, 0xE8}))};

    // One byte at a time: nothing comes out early, everything comes out once.
    ws_frame_reader reader(1 << 20);
    std::string buffer;
    std::vector<seen> got;
    for (char c : wire) {
        buffer += c;
        for (auto& s : drain(reader, buffer)) got.push_back(std::move(s));
    }
    CHECK(got == expected);

    // Two pieces, cut at every point of the frames before the big one.
    auto small_end = wire.find(client_frame(fin | op_binary, std::string(70'000, 'b')));
    REQUIRE(small_end != std::string::npos);
    for (std::size_t cut = 0; cut <= small_end; ++cut) {
        INFO("cut at byte " << cut);
        ws_frame_reader r(1 << 20);
        std::string b = wire.substr(0, cut);
        auto pieces = drain(r, b);
        b += wire.substr(cut);
        for (auto& s : drain(r, b)) pieces.push_back(std::move(s));
        CHECK(pieces == expected);
    }
}

TEST_CASE("the reader hands out two frames of one buffer one after the other", "[unit][deliver]") {
    ws_frame_reader reader(1024);
    std::string buffer = client_frame(fin | op_text, "one") + client_frame(fin | op_text, "two");
    ws_frame_reader::event ev;
    REQUIRE(reader.next(buffer, ev) == result::message);
    CHECK(ev.payload == "one");
    REQUIRE(reader.next(buffer, ev) == result::message);
    CHECK(ev.payload == "two");
    CHECK(reader.next(buffer, ev) == result::need_more);
    CHECK(buffer.empty());
}

TEST_CASE("a fragmented message comes out whole, a ping in between on its own", "[unit][deliver]") {
    std::string wire = client_frame(op_text, "{\"op\":") + client_frame(fin | op_ping, "p1") +
                       client_frame(op_cont, "\"subscribe\"") + client_frame(fin | op_pong, "") +
                       client_frame(fin | op_cont, "}");
    CHECK(read_all(wire) == std::vector<seen>{control(ws_opcode::ping, "p1"),
                                              control(ws_opcode::pong, ""),
                                              message(ws_opcode::text, "{\"op\":\"subscribe\"}")});

    // Binary stays binary; empty fragments count.
    CHECK(read_all(client_frame(op_binary, "a") + client_frame(op_cont, "") +
                   client_frame(fin | op_cont, "b")) ==
          std::vector<seen>{message(ws_opcode::binary, "ab")});

    // Messages after a fragmented one start afresh.
    CHECK(read_all(client_frame(op_text, "ab") + client_frame(fin | op_cont, "cd") +
                   client_frame(fin | op_text, "ef") + client_frame(op_text, "g") +
                   client_frame(fin | op_cont, "h")) ==
          std::vector<seen>{message(ws_opcode::text, "abcd"), message(ws_opcode::text, "ef"),
                            message(ws_opcode::text, "gh")});
}

TEST_CASE("the size limit counts a message, not what came before it", "[unit][deliver]") {
    // Two fragmented messages in a row, each just at the limit, then a frame at it.
    std::string eight(8, 'x');
    std::string wire = client_frame(op_text, eight) + client_frame(fin | op_cont, eight) +
                       client_frame(op_text, eight) + client_frame(fin | op_cont, eight) +
                       client_frame(fin | op_text, eight + eight);
    CHECK(read_all(wire, 16) == std::vector<seen>{message(ws_opcode::text, eight + eight),
                                                  message(ws_opcode::text, eight + eight),
                                                  message(ws_opcode::text, eight + eight)});
}

TEST_CASE("an unmasked client frame is a protocol error", "[unit][deliver]") {
    CHECK(error_of(client_frame(fin | op_text, "Hello", false)) == 1002);
    CHECK(error_of(client_frame(fin | op_ping, "", false)) == 1002);
    // Also after good frames.
    CHECK(error_of(client_frame(fin | op_text, "ok") + client_frame(fin | op_text, "no", false)) ==
          1002);
}

TEST_CASE("reserved bits without an extension are a protocol error", "[unit][deliver]") {
    for (int rsv : {0x40, 0x20, 0x10, 0x70}) {
        INFO("reserved bits " << rsv);
        CHECK(error_of(client_frame(static_cast<std::uint8_t>(fin | rsv | op_text), "x")) == 1002);
        CHECK(error_of(client_frame(static_cast<std::uint8_t>(fin | rsv | op_ping), "")) == 1002);
    }
}

TEST_CASE("a message over the limit is refused with 1009", "[unit][deliver]") {
    CHECK(error_of(client_frame(fin | op_text, std::string(16, 'x')), 16) == 0);
    CHECK(error_of(client_frame(fin | op_text, std::string(17, 'x')), 16) == 1009);
    CHECK(error_of(client_frame(fin | op_binary, std::string(300, 'x')), 256) == 1009);
    // Fragments adding up past the limit.
    CHECK(error_of(client_frame(op_text, std::string(10, 'x')) +
                       client_frame(fin | op_cont, std::string(6, 'x')),
                   16) == 0);
    CHECK(error_of(client_frame(op_text, std::string(10, 'x')) +
                       client_frame(op_cont, std::string(5, 'x')) +
                       client_frame(fin | op_cont, std::string(5, 'x')),
                   16) == 1009);

    // Refused from the header alone: the reader does not wait for (or buffer) the
    // payload first.
    ws_frame_reader reader(1024);
    std::string buffer = bytes({0x81, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});
    ws_frame_reader::event ev;
    CHECK(reader.next(buffer, ev) == result::error);
    CHECK(reader.close_code == 1009);
    // Also a length with the top bit set.
    ws_frame_reader top(1024);
    buffer = bytes({0x81, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05});
    CHECK(top.next(buffer, ev) == result::error);
    CHECK((top.close_code == 1009 || top.close_code == 1002));
}

TEST_CASE("a continuation without a message, or a message inside one, is a protocol error",
          "[unit][deliver]") {
    CHECK(error_of(client_frame(fin | op_cont, "x")) == 1002);
    CHECK(error_of(client_frame(op_cont, "x")) == 1002);
    // After a complete fragmented message, a continuation has nothing to continue.
    CHECK(error_of(client_frame(op_text, "a") + client_frame(fin | op_cont, "b") +
                   client_frame(fin | op_cont, "c")) == 1002);
    CHECK(error_of(client_frame(op_text, "a") + client_frame(fin | op_text, "b")) == 1002);
    CHECK(error_of(client_frame(op_text, "a") + client_frame(op_binary, "b")) == 1002);
}

TEST_CASE("control frames must be final and at most 125 bytes", "[unit][deliver]") {
    CHECK(error_of(client_frame(fin | op_ping, std::string(125, 'p'))) == 0);
    CHECK(error_of(client_frame(fin | op_ping, std::string(126, 'p'))) == 1002);
    CHECK(error_of(client_frame(fin | op_pong, std::string(126, 'p'))) == 1002);
    CHECK(error_of(client_frame(fin | op_close, std::string(200, 'c'))) == 1002);
    // A short payload in the 16-bit encoding is still short.
    CHECK(error_of(client_frame(fin | op_ping, "ok", true, 2)) == 0);
    CHECK(error_of(client_frame(op_ping, "")) == 1002);
    CHECK(error_of(client_frame(op_close, bytes({0x03, 0xE8}))) == 1002);
    CHECK(error_of(client_frame(op_pong, "x")) == 1002);
}

TEST_CASE("unknown opcodes are a protocol error", "[unit][deliver]") {
    for (int op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        INFO("opcode " << op);
        CHECK(error_of(client_frame(static_cast<std::uint8_t>(fin | op), "x")) == 1002);
    }
}

TEST_CASE("the reader takes 16- and 64-bit lengths", "[unit][deliver]") {
    std::string big(70'000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 256);
    CHECK(read_all(client_frame(fin | op_binary, big)) ==
          std::vector<seen>{message(ws_opcode::binary, big)});
    CHECK(read_all(client_frame(fin | op_text, std::string(65535, 'y'))) ==
          std::vector<seen>{message(ws_opcode::text, std::string(65535, 'y'))});
    // Longer encodings than needed are read as well.
    CHECK(read_all(client_frame(fin | op_text, "tiny", true, 8) +
                   client_frame(fin | op_text, "small", true, 2)) ==
          std::vector<seen>{message(ws_opcode::text, "tiny"), message(ws_opcode::text, "small")});
    // A 64-bit length at the limit, exactly.
    CHECK(read_all(client_frame(fin | op_text, std::string(65536, 'z')), 65536) ==
          std::vector<seen>{message(ws_opcode::text, std::string(65536, 'z'))});
}

TEST_CASE("a close frame with a one-byte body or a code no endpoint may send is refused",
          "[unit][deliver]") {
    // RFC 6455 5.5.1: a close body starts with a 2-byte code; 7.4.1/7.4.2: 1004, 1005,
    // 1006, 1015 and codes below 1000 or unassigned below 3000 never go on the wire.
    CHECK(error_of(client_frame(fin | op_close, "")) == 0);
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03, 0xE8}) + "bye")) == 0);  // 1000
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03, 0xF3}))) == 0);          // 1011
    CHECK(error_of(client_frame(fin | op_close, bytes({0x0F, 0xA0}))) == 0);          // 4000
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03}))) == 1002);
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
        INFO("code " << code);
        CHECK(error_of(client_frame(fin | op_close, bytes({code >> 8, code & 0xFF}))) == 1002);
    }
}

TEST_CASE("a close frame whose reason is not UTF-8 fails with 1007", "[unit][deliver]") {
    // 1000 and the reason "ok" is fine; 1000 and a lone continuation byte is not.
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03, 0xE8, 'o', 'k'}))) == 0);
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03, 0xE8, 0x80}))) == 1007);
    CHECK(error_of(client_frame(fin | op_close, bytes({0x03, 0xE8, 'a', 0xC3}))) == 1007);
}

TEST_CASE("ws_frame_reader: many small frames are read in place and erased once",
          "[unit][deliver]") {
    // A read of 64 KiB can hold hundreds of pings: erasing each one from the buffer's
    // front would move the rest every time (a flood of pings stalled the reader so).
    std::string buffer;
    for (int i = 0; i < 500; ++i) buffer += client_frame(fin | op_ping, "p" + std::to_string(i));
    auto size = buffer.size();
    const auto* storage = buffer.data();
    ws_frame_reader reader(1 << 20);
    for (int i = 0; i < 500; ++i) {
        ws_frame_reader::event ev;
        REQUIRE(reader.next(buffer, ev) == result::control);
        CHECK(ev.payload == "p" + std::to_string(i));
        CHECK(buffer.size() == size);  // nothing moved while frames are handed out
    }
    CHECK(buffer.data() == storage);
    ws_frame_reader::event ev;
    CHECK(reader.next(buffer, ev) == result::need_more);
    CHECK(buffer.empty());  // then what was read goes at once
    // A partial frame stays, at the front, for the bytes still to come.
    auto half = client_frame(fin | op_text, "split");
    buffer = half.substr(0, 3);
    CHECK(reader.next(buffer, ev) == result::need_more);
    buffer += half.substr(3);
    REQUIRE(reader.next(buffer, ev) == result::message);
    CHECK(ev.payload == "split");
}
