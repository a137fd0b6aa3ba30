#include "deliver/ws_send_queue.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using namespace sluice::deliver;

namespace {

using namespace std::chrono_literals;

// One server frame as the client would read it.
struct frame {
    int op;
    std::string payload;
    bool operator==(const frame&) const = default;
};

std::ostream& operator<<(std::ostream& os, const frame& f) {
    return os << "{op " << f.op << ", " << f.payload.size() << " bytes: " << f.payload.substr(0, 40)
              << "}";
}

// The bytes the write in progress puts on the wire: write_bytes() with each shared
// body inserted at its offset.
std::string wire(const ws_send_queue& q) {
    const auto& bytes = q.write_bytes();
    std::string out;
    std::size_t at = 0;
    for (const auto& p : q.write_pieces()) {
        out.append(bytes, at, p.offset - at);
        out += *p.body;
        at = p.offset;
    }
    out.append(bytes, at, std::string::npos);
    return out;
}

// Reads server frames (final, unmasked) out of `bytes`; fails the test on anything else.
std::vector<frame> frames_of(const std::string& bytes) {
    std::vector<frame> out;
    std::size_t at = 0;
    while (at < bytes.size()) {
        REQUIRE(bytes.size() - at >= 2);
        auto b0 = static_cast<unsigned char>(bytes[at]);
        auto b1 = static_cast<unsigned char>(bytes[at + 1]);
        REQUIRE((b0 & 0x80) != 0);  // final
        REQUIRE((b1 & 0x80) == 0);  // unmasked
        std::uint64_t len = b1 & 0x7F;
        at += 2;
        std::size_t extra = len == 126 ? 2 : len == 127 ? 8 : 0;
        if (extra) {
            REQUIRE(bytes.size() - at >= extra);
            len = 0;
            for (std::size_t i = 0; i < extra; ++i)
                len = (len << 8) | static_cast<unsigned char>(bytes[at + i]);
            at += extra;
        }
        REQUIRE(bytes.size() - at >= len);
        out.push_back({b0 & 0x0F, bytes.substr(at, static_cast<std::size_t>(len))});
        at += static_cast<std::size_t>(len);
    }
    return out;
}

out_frame text(std::string s) {
    out_frame f;
    f.head = std::move(s);
    return f;
}

// An event frame: `head`, the shared `body`, '}'.
out_frame event(std::string head, std::shared_ptr<const std::string> body,
                std::uint64_t entry_ms = 0) {
    out_frame f;
    f.head = std::move(head);
    f.body = std::move(body);
    f.entry_ms = entry_ms;
    return f;
}

// Takes the next write and returns its frames.
std::vector<frame> next_write(ws_send_queue& q) {
    REQUIRE(q.has_work());
    q.begin_write();
    auto out = frames_of(wire(q));
    return out;
}

constexpr int text_op = 0x1, close_op = 0x8, ping_op = 0x9, pong_op = 0xA;
const auto t0 = clock_type::time_point{} + 1h;

}  // namespace

TEST_CASE("send queue: every frame queued before a write goes in that one write, in order",
          "[unit]") {
    ws_send_queue q(1 << 20);
    CHECK_FALSE(q.has_work());
    CHECK(q.push(text("one"), t0));
    CHECK(q.push(text("two"), t0));
    CHECK(q.push(event(R"({"op":"event","event":)", std::make_shared<std::string>("{}")), t0));
    CHECK(q.queued_frames() == 3);
    CHECK(next_write(q) == std::vector<frame>{{text_op, "one"},
                                              {text_op, "two"},
                                              {text_op, R"({"op":"event","event":{}})"}});
    CHECK(q.queued_frames() == 0);
    CHECK(q.queued_bytes() == 0);
    q.end_write();
    CHECK_FALSE(q.has_work());
}

TEST_CASE("send queue: only the latest ping is answered, before pings and data", "[unit]") {
    ws_send_queue q(1 << 20);
    CHECK(q.push(text("data"), t0));
    q.ping();
    for (int i = 0; i < 1000; ++i) q.answer_ping("ping " + std::to_string(i));
    CHECK(next_write(q) ==
          std::vector<frame>{{pong_op, "ping 999"}, {ping_op, ""}, {text_op, "data"}});
    q.end_write();
    CHECK_FALSE(q.has_work());

    // A ping answered, then another: the second is answered in the next write.
    q.answer_ping("a");
    CHECK(next_write(q) == std::vector<frame>{{pong_op, "a"}});
    q.end_write();
    q.answer_ping("b");
    CHECK(next_write(q) == std::vector<frame>{{pong_op, "b"}});
}

TEST_CASE("send queue: past max_queued_bytes, counting control frames, push says so", "[unit]") {
    ws_send_queue q(100);
    CHECK(q.push(text(std::string(60, 'a')), t0));
    q.ping();  // 2 bytes of control frame
    CHECK(q.queued_bytes() == 62);
    CHECK(q.push(text(std::string(38, 'b')), t0));  // 100: at the cap, not past it
    CHECK_FALSE(q.push(text("c"), t0));             // 101
    // A shared body counts with its closing '}'.
    ws_send_queue r(10);
    CHECK(r.push(event("12345", std::make_shared<std::string>("1234")), t0));  // 10
    CHECK_FALSE(r.push(text("x"), t0));
    // What a write takes no longer counts.
    r.begin_write();
    CHECK(r.queued_bytes() == 0);
    r.end_write();
    CHECK(r.push(text("0123456789"), t0));
}

TEST_CASE("send queue: close drops unwritten data frames and the pong, and goes last", "[unit]") {
    ws_send_queue q(1 << 20);
    auto sub = std::make_shared<subscription>();
    out_frame fanout = text("fan-out");
    fanout.fanout = sub;
    CHECK(q.push(text("written"), t0));
    q.begin_write();  // in flight when the close comes
    CHECK(q.push(std::move(fanout), t0));
    CHECK(q.push(text("also dropped"), t0));
    q.answer_ping("p");
    q.ping();

    auto dropped = q.close(1008, "too slow");
    REQUIRE(dropped.size() == 2);
    CHECK(dropped[0].fanout == sub);
    CHECK(dropped[1].head == "also dropped");
    CHECK(q.closing());
    CHECK(q.queued_frames() == 0);
    CHECK_FALSE(q.write_closes());  // the write in flight was taken before the close
    q.end_write();

    // Once closing: no more data frames, no pong, no second close frame.
    CHECK(q.push(text("late"), t0));
    q.answer_ping("late ping");
    CHECK(q.close(1000, "").empty());

    auto out = next_write(q);
    REQUIRE(out.size() == 2);
    CHECK(out[0] == frame{ping_op, ""});
    CHECK(out[1].op == close_op);
    CHECK(out[1].payload == std::string("\x03\xf0", 2) + "too slow");
    CHECK(q.write_closes());
    q.end_write();
    CHECK_FALSE(q.has_work());
}

TEST_CASE("send queue: the oldest unwritten data frame's wait is what times out", "[unit]") {
    ws_send_queue q(1 << 20);
    CHECK_FALSE(q.waited_longer_than(10s, t0 + 1h));  // empty
    CHECK(q.push(text("old"), t0));
    CHECK(q.push(text("new"), t0 + 5s));
    CHECK_FALSE(q.waited_longer_than(10s, t0 + 10s));
    CHECK(q.waited_longer_than(10s, t0 + 10s + 1ms));
    q.begin_write();  // both taken: nothing waits
    CHECK_FALSE(q.waited_longer_than(10s, t0 + 1h));
    q.end_write();
    q.ping();  // control frames do not time out
    CHECK_FALSE(q.waited_longer_than(10s, t0 + 1h));
}

TEST_CASE("send queue: large shared bodies are written in place, small ones copied", "[unit]") {
    ws_send_queue q(1 << 20);
    auto large = std::make_shared<const std::string>(
        "{\"data\":\"" + std::string(ws_send_queue::shared_body_bytes, 'L') + "\"}");
    auto small = std::make_shared<const std::string>(R"({"data":"s"})");
    auto sub = std::make_shared<subscription>();
    out_frame first = event(R"({"sub":"a","event":)", large, 1111);
    first.fanout = sub;
    CHECK(q.push(std::move(first), t0));
    CHECK(q.push(event(R"({"sub":"b","event":)", small, 2222), t0));
    CHECK(q.push(event(R"({"sub":"c","event":)", large), t0));
    CHECK(q.push(text("no receipt"), t0));
    q.begin_write();

    REQUIRE(q.write_pieces().size() == 2);
    CHECK(q.write_pieces()[0].body == large);  // the same bytes, not a copy
    CHECK(q.write_bytes().size() < 2 * large->size());
    CHECK(frames_of(wire(q)) ==
          std::vector<frame>{{text_op, R"({"sub":"a","event":)" + *large + "}"},
                             {text_op, R"({"sub":"b","event":)" + *small + "}"},
                             {text_op, R"({"sub":"c","event":)" + *large + "}"},
                             {text_op, "no receipt"}});
    // Receipts: of the frames with a fan-out subscription or a stream time, in order.
    auto receipts = q.write_receipts();
    REQUIRE(receipts.size() == 2);
    CHECK(receipts[0].fanout == sub);
    CHECK(receipts[0].entry_ms == 1111);
    CHECK(receipts[1].fanout == nullptr);
    CHECK(receipts[1].entry_ms == 2222);
    q.end_write();
    CHECK(q.write_pieces().empty());
    CHECK(q.write_receipts().empty());
    CHECK(large.use_count() == 1);  // the queue holds no body once the write is over
}

TEST_CASE("send queue: one write gathers at most max_pieces shared bodies", "[unit]") {
    ws_send_queue q(64 << 20);
    auto body = std::make_shared<const std::string>(
        "\"" + std::string(ws_send_queue::shared_body_bytes, 'x') + "\"");
    for (int i = 0; i < 100; ++i) CHECK(q.push(event("{\"event\":", body), t0));
    q.begin_write();
    CHECK(q.write_pieces().size() + 2 == ws_send_queue::max_pieces);
    auto out = frames_of(wire(q));
    REQUIRE(out.size() == 100);
    for (const auto& f : out) CHECK(f == frame{text_op, "{\"event\":" + *body + "}"});
}

TEST_CASE("send queue: a burst larger than a batch takes more than one write", "[unit]") {
    ws_send_queue q(64 << 20);
    const std::size_t n = 3 * ws_send_queue::batch_bytes / 1000;
    for (std::size_t i = 0; i < n; ++i) CHECK(q.push(text(std::string(1000, 'a')), t0));
    std::size_t writes = 0, seen = 0;
    while (q.has_work()) {
        auto out = next_write(q);
        CHECK(out.size() * 1000 <= ws_send_queue::batch_bytes + 1000);
        seen += out.size();
        ++writes;
        q.end_write();
    }
    CHECK(seen == n);
    CHECK(writes == 3);
}

TEST_CASE("send queue: an idle queue gives its buffers back", "[unit]") {
    ws_send_queue q(64 << 20);
    CHECK(q.push(text("small"), t0));
    q.begin_write();
    q.end_write();
    CHECK(q.write_bytes().capacity() <= sizeof(std::string));  // a small write keeps none

    for (int i = 0; i < 10; ++i) CHECK(q.push(text(std::string(1000, 'a')), t0));
    q.begin_write();
    q.end_write();
    CHECK(q.write_bytes().capacity() >= 10'000);  // a busy socket keeps it for the next
    q.ping();
    q.release_if_idle();  // not idle: a ping waits
    CHECK(q.write_bytes().capacity() >= 10'000);
    q.begin_write();
    q.end_write();
    q.release_if_idle();
    CHECK(q.write_bytes().capacity() <= sizeof(std::string));
}
