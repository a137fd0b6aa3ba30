#include "redis/multiplexer.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

using namespace sluice::redis;
using namespace std::chrono_literals;
using clock_type = multiplexer::clock_type;
using boost::system::error_code;

namespace {

// What one request completed with, and how many times it completed.
struct outcome {
    int calls = 0;
    error_code ec;
    reply r;
};

// A completion that records into `o` (which must outlive the multiplexer's use of it).
completion record(outcome& o) {
    return [&o](error_code ec, reply r) {
        ++o.calls;
        o.ec = ec;
        o.r = std::move(r);
    };
}

const clock_type::time_point t0{};

// Writes everything the multiplexer has to write, whole, and returns it.
std::string write_all(multiplexer& m, clock_type::time_point now = t0) {
    auto bytes = m.prepare_write(now);
    std::string out(bytes);
    m.commit_write(bytes.size());
    return out;
}

// An XADD marked as a write that must reach replicas (request::replicate()).
request replicated_xadd(const char* value) {
    auto x = command("XADD", "s", "*", "f", value);
    x.replicate();
    return x;
}

}  // namespace

TEST_CASE("multiplexer: pipelined requests go out in one write and complete in order",
          "[unit][redis]") {
    multiplexer m;
    std::vector<int> order;
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i)
        REQUIRE(m.add(
            command("GET", "k" + std::to_string(i)),
            [&order, &got, i](error_code ec, reply r) {
                CHECK_FALSE(ec);
                order.push_back(i);
                got.push_back(r.str);
            },
            t0));
    CHECK(m.pending() == 3);
    CHECK(m.has_unwritten());
    auto wire = write_all(m);
    CHECK(wire ==
          command("GET", "k0").wire() + command("GET", "k1").wire() + command("GET", "k2").wire());
    CHECK_FALSE(m.has_unwritten());
    CHECK(m.prepare_write(t0).empty());  // nothing new: nothing to write

    CHECK_FALSE(m.consume("$2\r\nv0\r\n$2\r\nv1\r\n"));
    CHECK(order == std::vector<int>{0, 1});
    CHECK(m.pending() == 1);
    CHECK_FALSE(m.consume("$2\r\nv2\r\n"));
    CHECK(order == std::vector<int>{0, 1, 2});
    CHECK(got == std::vector<std::string>{"v0", "v1", "v2"});
    CHECK(m.pending() == 0);
    CHECK(m.pending_bytes() == 0);
}

TEST_CASE("multiplexer: a request of several commands completes once all its replies are in",
          "[unit][redis]") {
    multiplexer m;
    outcome batch, single;
    auto r = command("MULTI");
    r.push(command("INCR", "a")).push_command("EXEC");
    REQUIRE(m.add(std::move(r), record(batch), t0));
    REQUIRE(m.add(command("PING"), record(single), t0));
    write_all(m);

    CHECK_FALSE(m.consume("+OK\r\n+QUEUED\r\n"));
    CHECK(batch.calls == 0);
    CHECK_FALSE(m.consume("*1\r\n:1\r\n+PONG\r\n"));
    REQUIRE(batch.calls == 1);
    CHECK_FALSE(batch.ec);
    REQUIRE(batch.r.type == reply::kind::array);
    REQUIRE(batch.r.elements.size() == 3);
    CHECK(batch.r.elements[0].str == "OK");
    CHECK(batch.r.elements[1].str == "QUEUED");
    REQUIRE(batch.r.elements[2].type == reply::kind::array);
    CHECK(batch.r.elements[2].elements.at(0).integer == 1);
    // One command: its own reply, not an array of one.
    REQUIRE(single.calls == 1);
    CHECK(single.r.type == reply::kind::status);
    CHECK(single.r.str == "PONG");
}

TEST_CASE("multiplexer: replies split at every byte complete the same requests", "[unit][redis]") {
    const std::string replies = "+OK\r\n$5\r\nhello\r\n*2\r\n:7\r\n$-1\r\n-ERR no\r\n:42\r\n";
    for (std::size_t cut = 1; cut < replies.size(); ++cut) {
        INFO("split after byte " << cut);
        multiplexer m;
        outcome a, b, c, d;
        REQUIRE(m.add(command("SET", "k", "v"), record(a), t0));
        auto two = command("GET", "k");
        two.push_command("LRANGE", "l", "0", "1");
        REQUIRE(m.add(std::move(two), record(b), t0));
        REQUIRE(m.add(command("BAD"), record(c), t0));
        REQUIRE(m.add(command("INCR", "n"), record(d), t0));
        write_all(m);
        CHECK_FALSE(m.consume(std::string_view(replies).substr(0, cut)));
        CHECK_FALSE(m.consume(std::string_view(replies).substr(cut)));
        CHECK(a.calls == 1);
        CHECK(a.r.str == "OK");
        REQUIRE(b.calls == 1);
        REQUIRE(b.r.elements.size() == 2);
        CHECK(b.r.elements[0].str == "hello");
        CHECK(b.r.elements[1].elements.size() == 2);
        CHECK(c.calls == 1);
        CHECK(d.calls == 1);
        CHECK(d.r.integer == 42);
    }
    // And one byte at a time.
    multiplexer m;
    outcome a;
    REQUIRE(m.add(command("GET", "k"), record(a), t0));
    write_all(m);
    const std::string one = "$11\r\nhello world\r\n";
    for (std::size_t i = 0; i < one.size(); ++i) {
        CHECK(a.calls == 0);
        CHECK_FALSE(m.consume(std::string_view(one).substr(i, 1)));
    }
    CHECK(a.calls == 1);
    CHECK(a.r.str == "hello world");
}

TEST_CASE("multiplexer: an error reply is a successful completion, not an error", "[unit][redis]") {
    multiplexer m;
    outcome a, b;
    REQUIRE(m.add(command("INCR", "s"), record(a), t0));
    REQUIRE(m.add(command("PING"), record(b), t0));
    write_all(m);
    CHECK_FALSE(m.consume("-WRONGTYPE Operation against a key\r\n+PONG\r\n"));
    REQUIRE(a.calls == 1);
    CHECK_FALSE(a.ec);
    CHECK(a.r.is_error());
    CHECK(a.r.str == "WRONGTYPE Operation against a key");
    CHECK(b.calls == 1);
    CHECK(b.r.str == "PONG");
}

TEST_CASE("multiplexer: a reply over the cap fails only its own request", "[unit][redis]") {
    std::vector<std::size_t> skipped;
    multiplexer_options o;
    o.limits.max_bytes = 16;
    o.on_reply_too_large = [&skipped](const skipped_reply& s) { skipped.push_back(s.bytes); };
    multiplexer m(o);
    outcome big, batch, after;
    REQUIRE(m.add(command("GET", "big"), record(big), t0));
    auto two = command("GET", "big");
    two.push_command("PING");
    REQUIRE(m.add(std::move(two), record(batch), t0));
    REQUIRE(m.add(command("GET", "small"), record(after), t0));
    write_all(m);

    const std::string large = "$40\r\n" + std::string(40, 'x') + "\r\n";
    // The big reply arrives in pieces: nothing completes until it has ended.
    CHECK_FALSE(m.consume(std::string_view(large).substr(0, 20)));
    CHECK(big.calls == 0);
    CHECK_FALSE(m.consume(std::string_view(large).substr(20)));
    REQUIRE(big.calls == 1);
    CHECK(big.ec == error::reply_too_large);
    CHECK(big.r.is_error());
    CHECK_THAT(big.r.str, Catch::Contains("a reply of 40 bytes, over redis.max_reply_bytes (16)"));
    CHECK(skipped.size() == 1);

    // A request of several commands with one reply over the cap fails whole, once all
    // its replies are in; the request behind it is served.
    CHECK_FALSE(m.consume(large));
    CHECK(batch.calls == 0);
    CHECK_FALSE(m.consume("+PONG\r\n$2\r\nok\r\n"));
    REQUIRE(batch.calls == 1);
    CHECK(batch.ec == error::reply_too_large);
    CHECK(skipped.size() == 2);
    REQUIRE(after.calls == 1);
    CHECK_FALSE(after.ec);
    CHECK(after.r.str == "ok");
    CHECK(m.pending() == 0);
}

TEST_CASE("multiplexer: bytes that are not RESP, or a reply nobody asked for, break the stream",
          "[unit][redis]") {
    SECTION("not RESP") {
        multiplexer m;
        outcome a;
        REQUIRE(m.add(command("PING"), record(a), t0));
        write_all(m);
        CHECK(m.consume("?what\r\n") == error::protocol_error);
        CHECK_FALSE(m.broken_reason().empty());
        CHECK(a.calls == 0);  // the shell fails it, with cancel_all
        m.cancel_all(error::protocol_error);
        CHECK(a.calls == 1);
        CHECK(a.ec == error::protocol_error);
    }
    SECTION("unsolicited") {
        multiplexer m;
        CHECK(m.consume("+OK\r\n") == error::protocol_error);
        CHECK(m.broken_reason() == "a reply nobody asked for");
    }
    SECTION("a reply for a request still queued, not yet written") {
        multiplexer m;
        outcome a;
        REQUIRE(m.add(command("PING"), record(a), t0));
        CHECK(m.consume("+PONG\r\n") == error::protocol_error);
        CHECK(a.calls == 0);
    }
}

TEST_CASE("multiplexer: requests beyond the caps are refused at once with overloaded",
          "[unit][redis]") {
    SECTION("by count, written or not") {
        multiplexer_options o;
        o.max_pending_requests = 2;
        multiplexer m(o);
        outcome a, b, c, d;
        CHECK(m.add(command("PING"), record(a), t0));
        write_all(m);  // an awaited request still counts
        CHECK(m.add(command("PING"), record(b), t0));
        CHECK_FALSE(m.add(command("PING"), record(c), t0));
        CHECK(c.calls == 1);
        CHECK(c.ec == error::overloaded);
        CHECK(m.pending() == 2);
        CHECK(write_all(m) == command("PING").wire());  // the refused one is not sent
        CHECK_FALSE(m.consume("+PONG\r\n"));
        CHECK(m.add(command("PING"), record(d), t0));  // room again
        CHECK(d.calls == 0);
    }
    SECTION("by bytes") {
        multiplexer_options o;
        o.max_pending_bytes = command("SET", "k", "v").wire().size() + 10;
        multiplexer m(o);
        outcome a, b, c;
        CHECK(m.add(command("SET", "k", "v"), record(a), t0));
        CHECK(m.pending_bytes() == command("SET", "k", "v").wire().size());
        CHECK_FALSE(m.add(command("SET", "k", "v"), record(b), t0));
        CHECK(b.ec == error::overloaded);
        write_all(m);
        CHECK(m.pending_bytes() == command("SET", "k", "v").wire().size());  // until replied
        CHECK_FALSE(m.consume("+OK\r\n"));
        CHECK(m.pending_bytes() == 0);
        CHECK(m.add(command("SET", "k", "v"), record(c), t0));
    }
}

TEST_CASE("multiplexer: cancel_all on disconnect completes every pending request exactly once",
          "[unit][redis]") {
    multiplexer m;
    std::vector<outcome> out(5);
    auto two = command("GET", "a");
    two.push_command("GET", "b");
    REQUIRE(m.add(std::move(two), record(out[0]), t0));  // half answered
    REQUIRE(m.add(command("GET", "c"), record(out[1]), t0));
    write_all(m);
    REQUIRE(m.add(command("GET", "d"), record(out[2]), t0));
    m.prepare_write(t0);                                      // in a write that never finishes
    REQUIRE(m.add(command("GET", "e"), record(out[3]), t0));  // still queued
    CHECK_FALSE(m.consume("$1\r\na\r\n"));
    CHECK(out[0].calls == 0);

    // A completion that queues its caller's next request is refused, not served, and
    // calling cancel_all again completes nothing twice.
    outcome retried;
    m.add(
        command("GET", "f"),
        [&m, &out, &retried](error_code ec, reply r) {
            ++out[4].calls;
            out[4].ec = ec;
            out[4].r = std::move(r);
            m.add(command("GET", "f"), record(retried), t0);
            m.cancel_all(error::closed);
        },
        t0);
    m.cancel_all(error::connection_lost);
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("request " << i);
        CHECK(out[i].calls == 1);
        CHECK(out[i].ec == error::connection_lost);
    }
    CHECK(retried.calls == 1);
    CHECK(retried.ec == error::connection_lost);
    m.cancel_all(error::closed);
    for (auto& o : out) CHECK(o.calls == 1);
    CHECK(m.pending() == 0);
    CHECK(m.pending_bytes() == 0);
    CHECK(m.is_closed());
    // Bytes arriving later are ignored; new requests are refused with the same error.
    CHECK_FALSE(m.consume("$1\r\nb\r\n"));
    outcome late;
    CHECK_FALSE(m.add(command("PING"), record(late), t0));
    CHECK(late.calls == 1);
    CHECK(late.ec == error::connection_lost);
}

TEST_CASE("multiplexer: a completion may give up the connection in the middle of a read",
          "[unit][redis]") {
    multiplexer m;
    outcome second;
    REQUIRE(m.add(
        command("PING"), [&m](error_code, reply) { m.cancel_all(error::closed); }, t0));
    REQUIRE(m.add(command("PING"), record(second), t0));
    write_all(m);
    CHECK_FALSE(m.consume("+PONG\r\n+PONG\r\n"));
    CHECK(second.calls == 1);
    CHECK(second.ec == error::closed);  // cancelled, not served by the reply behind
}

TEST_CASE("multiplexer: a write committed in parts is resumed, with what was queued since",
          "[unit][redis]") {
    multiplexer m;
    outcome a, b;
    REQUIRE(m.add(command("SET", "k", "v"), record(a), t0));
    const auto first = command("SET", "k", "v").wire();
    auto bytes = m.prepare_write(t0);
    REQUIRE(bytes == first);
    CHECK(m.is_writing());
    m.commit_write(5);
    CHECK(m.is_writing());
    CHECK(m.has_unwritten());
    REQUIRE(m.add(command("PING"), record(b), t0));
    CHECK(m.queued() == 1);
    // The rest of the first request, then the new one, in one buffer.
    auto rest = m.prepare_write(t0);
    CHECK(rest == first.substr(5) + command("PING").wire());
    CHECK(m.queued() == 0);
    m.commit_write(rest.size());
    CHECK_FALSE(m.is_writing());
    CHECK_FALSE(m.has_unwritten());
    CHECK_FALSE(m.consume("+OK\r\n+PONG\r\n"));
    CHECK(a.calls == 1);
    CHECK(b.calls == 1);
}

TEST_CASE("multiplexer: Redis is overdue when a reply, a write or a queued request is late",
          "[unit][redis]") {
    const auto dead_after = 100ms;
    SECTION("a late reply, allowing for a blocking command's extra time") {
        multiplexer m;
        outcome a, b;
        REQUIRE(m.add(command("XREAD", "BLOCK", "500"), record(a), t0, 500ms));
        write_all(m, t0);
        m.commit_write(0);
        CHECK_FALSE(m.is_overdue(t0 + 550ms, dead_after));
        CHECK(m.is_overdue(t0 + 601ms, dead_after));
        CHECK_FALSE(m.consume("*-1\r\n"));
        CHECK_FALSE(m.is_overdue(t0 + 601ms, dead_after));
        REQUIRE(m.add(command("PING"), record(b), t0 + 700ms));
        write_all(m, t0 + 700ms);
        CHECK_FALSE(m.is_overdue(t0 + 800ms, dead_after));
        CHECK(m.is_overdue(t0 + 801ms, dead_after));
    }
    SECTION("a write that does not finish") {
        multiplexer m;
        outcome a;
        REQUIRE(m.add(command("PING"), record(a), t0, 10s));  // the reply may take long
        m.prepare_write(t0);
        CHECK_FALSE(m.is_overdue(t0 + 100ms, dead_after));
        CHECK(m.is_overdue(t0 + 101ms, dead_after));
    }
    SECTION("a request never written") {
        multiplexer m;
        outcome a;
        REQUIRE(m.add(command("PING"), record(a), t0));
        CHECK_FALSE(m.is_overdue(t0 + 100ms, dead_after));
        CHECK(m.is_overdue(t0 + 101ms, dead_after));
    }
}

TEST_CASE(
    "completion: small functions are stored in place, large ones on the heap, each called once",
    "[unit][redis]") {
    int calls = 0;
    auto counter = std::make_shared<int>(0);
    completion small = [&calls, counter](error_code, reply) { ++calls; };
    std::array<char, 200> padding{};
    completion large = [&calls, counter, padding](error_code, reply) { calls += 1 + padding[0]; };
    CHECK(counter.use_count() == 3);
    completion moved = std::move(large);
    CHECK_FALSE(large);
    REQUIRE(moved);
    moved(error_code{}, reply{});
    small(error_code{}, reply{});
    CHECK(calls == 2);
    CHECK_FALSE(moved);
    CHECK_FALSE(small);
    CHECK(counter.use_count() == 1);  // both released once called
    completion dropped = [counter](error_code, reply) {};
    CHECK(counter.use_count() == 2);
    dropped = completion{};
    CHECK(counter.use_count() == 1);  // released without a call
}

TEST_CASE("multiplexer: replicated writes end their write with one WAIT and complete after it",
          "[unit][redis]") {
    multiplexer_options o;
    o.min_replicas = 1;
    o.replica_timeout = 250ms;
    multiplexer m(o);
    outcome a, b, plain;
    REQUIRE(m.add(replicated_xadd("1"), record(a), t0));
    REQUIRE(m.add(command("GET", "k"), record(plain), t0));
    REQUIRE(m.add(replicated_xadd("2"), record(b), t0));
    auto wire = write_all(m);
    // Three commands, then one WAIT for the two writes.
    CHECK(wire.ends_with("*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n250\r\n"));
    CHECK(m.pending() == 4);
    // The writes' replies are in: they wait for the WAIT; the plain one does not.
    REQUIRE_FALSE(m.consume("$3\r\n1-0\r\n$1\r\nv\r\n$3\r\n2-0\r\n"));
    CHECK(a.calls == 0);
    CHECK(plain.calls == 1);
    CHECK(b.calls == 0);
    CHECK(m.pending() == 3);
    REQUIRE_FALSE(m.consume(":1\r\n"));
    CHECK(a.calls == 1);
    CHECK_FALSE(a.ec);
    CHECK(a.r.str == "1-0");
    CHECK(b.calls == 1);
    CHECK(b.r.str == "2-0");
    CHECK(m.pending() == 0);

    // A write without replicated requests has no WAIT.
    outcome c;
    REQUIRE(m.add(command("GET", "k"), record(c), t0));
    CHECK(write_all(m).find("WAIT") == std::string::npos);
    REQUIRE_FALSE(m.consume("$1\r\nv\r\n"));
    CHECK(c.calls == 1);
}

TEST_CASE("multiplexer: too few replicas fail the writes with not_replicated, reply kept",
          "[unit][redis]") {
    multiplexer_options o;
    o.min_replicas = 2;
    multiplexer m(o);
    outcome a;
    REQUIRE(m.add(replicated_xadd("1"), record(a), t0));
    write_all(m);
    REQUIRE_FALSE(m.consume("$3\r\n1-0\r\n:1\r\n"));  // one replica of two
    REQUIRE(a.calls == 1);
    CHECK(a.ec == error::not_replicated);
    CHECK(a.r.str == "1-0");

    // An error reply to WAIT (a replica, an ACL) counts as none.
    outcome b;
    REQUIRE(m.add(replicated_xadd("2"), record(b), t0));
    write_all(m);
    REQUIRE_FALSE(m.consume("$3\r\n2-0\r\n-NOPERM no WAIT for you\r\n"));
    CHECK(b.ec == error::not_replicated);

    // A connection lost while writes wait for their WAIT fails them once.
    outcome c;
    REQUIRE(m.add(replicated_xadd("3"), record(c), t0));
    write_all(m);
    REQUIRE_FALSE(m.consume("$3\r\n3-0\r\n"));
    CHECK(c.calls == 0);
    m.cancel_all(error::connection_lost);
    CHECK(c.calls == 1);
    CHECK(c.ec == error::connection_lost);
}

TEST_CASE("multiplexer: without min_replicas a replicated write is an ordinary one",
          "[unit][redis]") {
    multiplexer m;
    outcome a;
    REQUIRE(m.add(replicated_xadd("1"), record(a), t0));
    CHECK(write_all(m).find("WAIT") == std::string::npos);
    REQUIRE_FALSE(m.consume("$3\r\n1-0\r\n"));
    CHECK(a.calls == 1);
    CHECK_FALSE(a.ec);
}

TEST_CASE("multiplexer: the WAIT's deadline allows for the replica timeout", "[unit][redis]") {
    multiplexer_options o;
    o.min_replicas = 1;
    o.replica_timeout = 2s;
    multiplexer m(o);
    outcome a;
    REQUIRE(m.add(replicated_xadd("1"), record(a), t0));
    write_all(m);
    REQUIRE_FALSE(m.consume("$3\r\n1-0\r\n"));
    // Only the WAIT awaits a reply now; it may take dead_after plus the replica timeout.
    CHECK_FALSE(m.is_overdue(t0 + 2500ms, 1s));
    CHECK(m.is_overdue(t0 + 3500ms, 1s));
}

TEST_CASE("multiplexer: writes queued while a WAIT is unanswered go together after it",
          "[unit][redis]") {
    multiplexer_options o;
    o.min_replicas = 1;
    o.replica_timeout = 1s;
    multiplexer m(o);
    outcome a, b, c, get;
    REQUIRE(m.add(replicated_xadd("1"), record(a), t0));
    auto first = write_all(m);
    CHECK(first.find("WAIT") != std::string::npos);
    // Redis runs nothing of this connection's before the WAIT returns: these wait here,
    // and a watchdog allows them the replica timeout on top of dead_after.
    REQUIRE(m.add(replicated_xadd("2"), record(b), t0));
    REQUIRE(m.add(command("GET", "k"), record(get), t0));
    REQUIRE(m.add(replicated_xadd("3"), record(c), t0));
    CHECK_FALSE(m.has_unwritten());
    CHECK(m.prepare_write(t0).empty());
    REQUIRE_FALSE(m.consume("$3\r\n1-0\r\n"));  // the XADD's reply; the WAIT's is due
    CHECK_FALSE(m.is_overdue(t0 + 1500ms, 1s));
    CHECK(m.is_overdue(t0 + 2500ms, 1s));
    REQUIRE_FALSE(m.consume(":1\r\n"));
    CHECK(a.calls == 1);
    CHECK(m.has_unwritten());
    auto second = write_all(m);
    // The three that waited, then one WAIT for both writes.
    CHECK(second.find("WAIT") == second.rfind("WAIT"));
    CHECK(second.ends_with("*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$4\r\n1000\r\n"));
    REQUIRE_FALSE(m.consume("$3\r\n2-0\r\n$1\r\nv\r\n$3\r\n3-0\r\n:1\r\n"));
    CHECK(b.calls == 1);
    CHECK(get.calls == 1);
    CHECK(c.calls == 1);
    CHECK(c.r.str == "3-0");
    CHECK_FALSE(c.ec);
}
