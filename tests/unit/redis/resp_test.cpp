#include "redis/resp.hpp"

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <random>

using namespace sluice::redis;

TEST_CASE("commands are encoded as RESP arrays of bulk strings", "[unit][redis]") {
    std::string out;
    encode_command(out, {"SET", "key", std::string_view("a\0b", 3)});
    CHECK(out == std::string("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\na\0b\r\n", 31));
}

TEST_CASE("our encoder writes exactly what hiredis's encoder writes", "[unit][redis]") {
    std::mt19937 rng(42);
    for (int round = 0; round < 500; ++round) {
        std::vector<std::string> storage(1 + rng() % 12);
        for (auto& a : storage) {
            a.resize(rng() % (round % 10 == 0 ? 5000 : 40));
            for (auto& c : a) c = static_cast<char>(rng() % 256);  // any byte, \0 and \r\n included
        }
        std::vector<std::string_view> argv(storage.begin(), storage.end());
        std::vector<const char*> ptrs;
        std::vector<std::size_t> lens;
        for (auto a : argv) ptrs.push_back(a.data()), lens.push_back(a.size());
        char* expected = nullptr;
        int n = redisFormatCommandArgv(&expected, static_cast<int>(argv.size()), ptrs.data(),
                                       lens.data());
        std::string ours;
        encode_command(ours, argv);
        CHECK(ours == std::string(expected, static_cast<std::size_t>(n)));
        redisFreeCommand(expected);
    }
}

TEST_CASE("several commands in one request keep their order", "[unit][redis]") {
    auto r = command("MULTI");
    r.push(command("INCR", "a")).push_command("EXEC");
    CHECK(r.commands() == 3);
    CHECK(r.wire() == "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n");
}

TEST_CASE("a command with pre-encoded arguments is the same command", "[unit][redis]") {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::string> storage(2 + rng() % 10);
        for (auto& a : storage) {
            a.resize(rng() % 300);
            for (auto& c : a) c = static_cast<char>(rng() % 256);
        }
        std::vector<std::string_view> argv(storage.begin(), storage.end());
        auto head_args = 1 + rng() % (argv.size() - 1);
        std::string tail;
        for (auto i = head_args; i < argv.size(); ++i) append_bulk(tail, argv[i]);
        request split;
        split.push(argv.data(), head_args, tail, argv.size() - head_args);
        CHECK(split.commands() == 1);
        CHECK(split.wire() == request(argv).wire());
    }
}

namespace {

using result = reply_decoder::result;

// What next() gave for each reply: the reply, or that it was skipped (with its size).
struct outcome {
    result what;
    reply value;
    std::size_t skipped_bytes = 0;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once), taking every reply after
// each feed as the connection does. Stops at the first bad_input.
std::vector<outcome> decode_all(reply_decoder& d, const std::string& bytes, std::size_t piece) {
    std::vector<outcome> got;
    std::size_t step = piece == 0 ? bytes.size() : piece;
    for (std::size_t at = 0; at < bytes.size(); at += step) {
        REQUIRE(d.feed(bytes.data() + at, std::min(step, bytes.size() - at)));
        for (;;) {
            reply r;
            auto res = d.next(r);
            if (res == result::need_more) break;
            got.push_back({res, std::move(r), res == result::too_large ? d.skipped().bytes : 0});
            if (res == result::bad_input) return got;
        }
    }
    return got;
}

}  // namespace

TEST_CASE("a reply over the byte cap is skipped whole and the next one is read", "[unit][redis]") {
    // 11 bytes of string: over a cap of 10. The +OK behind it belongs to the next request.
    std::string bytes = "$11\r\nhello world\r\n+OK\r\n";
    for (std::size_t piece : {0, 1, 2, 5}) {
        INFO("pieces of " << piece);
        reply_decoder d({.max_bytes = 10, .max_elements = 2});
        auto got = decode_all(d, bytes, piece);
        REQUIRE(got.size() == 2);
        CHECK(got[0].what == result::too_large);
        CHECK(got[0].skipped_bytes == 11);
        CHECK_THAT(d.skipped().reason,
                   Catch::Matchers::Contains("11 bytes, over redis.max_reply_bytes (10)"));
        CHECK(got[1].what == result::ok);
        CHECK(got[1].value.type == reply::kind::status);
        CHECK(got[1].value.str == "OK");
    }
}

TEST_CASE("an array over the element cap is skipped whole, nested arrays included",
          "[unit][redis]") {
    std::string bytes = "*3\r\n:1\r\n*2\r\n$1\r\na\r\n:2\r\n:3\r\n*2\r\n:4\r\n:5\r\n";
    for (std::size_t piece : {0, 1, 3}) {
        INFO("pieces of " << piece);
        reply_decoder d({.max_bytes = 1000, .max_elements = 2});
        auto got = decode_all(d, bytes, piece);
        REQUIRE(got.size() == 2);
        CHECK(got[0].what == result::too_large);
        CHECK_THAT(d.skipped().reason, Catch::Matchers::Contains("an array of 3 elements"));
        REQUIRE(got[1].what == result::ok);
        REQUIRE(got[1].value.elements.size() == 2);
        CHECK(got[1].value.elements[1].integer == 5);
    }
}

TEST_CASE("an error line over the cap is skipped as it streams in", "[unit][redis]") {
    std::string bytes = "-ERR " + std::string(5000, 'x') + "\r\n:7\r\n";
    for (std::size_t piece : {0, 1, 7, 4096}) {
        INFO("pieces of " << piece);
        reply_decoder d({.max_bytes = 1024, .max_elements = 16});
        auto got = decode_all(d, bytes, piece);
        REQUIRE(got.size() == 2);
        CHECK(got[0].what == result::too_large);
        CHECK(got[0].skipped_bytes == 5004);
        REQUIRE(got[1].what == result::ok);
        CHECK(got[1].value.integer == 7);
        CHECK(d.buffered_bytes() == 0);
    }
}

TEST_CASE("a skipped reply is counted, not stored", "[unit][redis]") {
    // 8 MiB of one bulk string inside an array, fed in 16 KiB reads against a 64 KiB cap:
    // the decoder never holds more than one read.
    reply_decoder d({.max_bytes = 64 * 1024, .max_elements = 16});
    std::string head = "*2\r\n$3\r\nkey\r\n$" + std::to_string(8 << 20) + "\r\n";
    std::string chunk(16 * 1024, 'v');
    std::size_t most_held = 0;
    auto feed = [&](const std::string& bytes) {
        REQUIRE(d.feed(bytes.data(), bytes.size()));
        reply r;
        auto res = d.next(r);
        most_held = std::max(most_held, d.buffered_bytes());
        return res;
    };
    CHECK(feed(head) == result::need_more);
    for (int i = 0; i < 512; ++i) REQUIRE(feed(chunk) == result::need_more);
    CHECK(feed("\r\n") == result::too_large);
    CHECK(d.skipped().bytes == 32 + 3 + (8u << 20));
    CHECK(most_held <= chunk.size());
    reply r;
    CHECK(feed("$2\r\nok\r\n") == result::ok);
}

TEST_CASE("bytes that are not RESP inside a skipped reply still break the stream",
          "[unit][redis]") {
    for (std::string bytes :
         {std::string("*2\r\n$20\r\n01234567890123456789\r\nHTTP/1.1 200 OK\r\n"),
          std::string("$20\r\n01234567890123456789XX:1\r\n"),
          "*3\r\n$20\r\n01234567890123456789\r\n:" + std::string(40, '1')}) {
        reply_decoder d({.max_bytes = 10, .max_elements = 16});
        auto got = decode_all(d, bytes, 1);
        REQUIRE_FALSE(got.empty());
        CHECK(got.back().what == result::bad_input);
        CHECK_FALSE(d.error().empty());
        CHECK_FALSE(d.feed("+OK\r\n", 5));
    }
}

namespace {

// A random reply tree, its RESP bytes and its charge (string bytes + 16 per element).
struct sample {
    reply value;
    std::string wire;
    std::size_t charge = 0;
    std::size_t widest = 0;  // elements of its widest array
};

void make_sample(std::mt19937& rng, int depth, sample& s, reply& node) {
    int kind = static_cast<int>(rng() % (depth < 3 ? 6 : 5));
    switch (kind) {
        case 0:
        case 1: {
            node.type = kind == 0 ? reply::kind::status : reply::kind::error;
            node.str.assign(rng() % (rng() % 10 == 0 ? 2500 : 40),
                            'a' + static_cast<char>(rng() % 26));
            s.wire += (kind == 0 ? "+" : "-") + node.str + "\r\n";
            s.charge += node.str.size();
            break;
        }
        case 2:
            node.type = reply::kind::integer;
            node.integer = static_cast<long long>(rng()) - (1LL << 31);
            s.wire += ":" + std::to_string(node.integer) + "\r\n";
            break;
        case 3:
            node.type = reply::kind::nil;
            s.wire += rng() % 2 ? "$-1\r\n" : "*-1\r\n";
            break;
        case 4: {
            node.type = reply::kind::string;
            node.str.resize(rng() % (rng() % 8 == 0 ? 3000 : 30));
            for (auto& c : node.str) c = static_cast<char>(rng() % 256);  // \r\n included
            s.wire += "$" + std::to_string(node.str.size()) + "\r\n" + node.str + "\r\n";
            s.charge += node.str.size();
            break;
        }
        default: {
            node.type = reply::kind::array;
            node.elements.resize(rng() % 7);
            s.widest = std::max(s.widest, node.elements.size());
            s.wire += "*" + std::to_string(node.elements.size()) + "\r\n";
            s.charge += 16 * node.elements.size();
            for (auto& e : node.elements) make_sample(rng, depth + 1, s, e);
        }
    }
}

bool same(const reply& a, const reply& b) {
    if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
        a.elements.size() != b.elements.size())
        return false;
    for (std::size_t i = 0; i < a.elements.size(); ++i)
        if (!same(a.elements[i], b.elements[i])) return false;
    return true;
}

}  // namespace

TEST_CASE("random replies, some over the caps, decode alike whatever the reads", "[unit][redis]") {
    std::mt19937 rng(2026);
    const reply_limits limits{.max_bytes = 2000, .max_elements = 5};
    for (int round = 0; round < 300; ++round) {
        std::vector<sample> samples(1 + rng() % 12);
        std::string bytes;
        for (auto& s : samples) {
            make_sample(rng, 0, s, s.value);
            bytes += s.wire;
        }
        for (std::size_t piece : {std::size_t(0), std::size_t(1), std::size_t(1 + rng() % 700)}) {
            INFO("round " << round << ", pieces of " << piece);
            reply_decoder d(limits);
            auto got = decode_all(d, bytes, piece);
            REQUIRE(got.size() == samples.size());
            for (std::size_t i = 0; i < samples.size(); ++i) {
                bool over =
                    samples[i].charge > limits.max_bytes || samples[i].widest > limits.max_elements;
                REQUIRE(got[i].what == (over ? result::too_large : result::ok));
                if (over && samples[i].widest <= limits.max_elements)
                    CHECK(got[i].skipped_bytes == samples[i].charge);
                if (!over) CHECK(same(got[i].value, samples[i].value));
            }
            CHECK(d.buffered_bytes() == 0);
        }
    }
}

TEST_CASE("the decoder returns each kind of reply, across split reads", "[unit][redis]") {
    reply_decoder d;
    reply r;
    std::string bytes =
        "+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n";
    // Feed one byte at a time: the decoder must never return a half reply.
    std::vector<reply> got;
    for (char c : bytes) {
        REQUIRE(d.feed(&c, 1));
        while (d.next(r) == reply_decoder::result::ok) got.push_back(r);
    }
    REQUIRE(got.size() == 6);
    CHECK(got[0].type == reply::kind::status);
    CHECK(got[0].str == "OK");
    CHECK(got[1].is_error());
    CHECK(got[1].str == "ERR wrong");
    CHECK(got[2].type == reply::kind::integer);
    CHECK(got[2].integer == 42);
    CHECK(got[3].type == reply::kind::string);
    CHECK(got[3].str == "hello");
    CHECK(got[4].type == reply::kind::nil);
    REQUIRE(got[5].type == reply::kind::array);
    REQUIRE(got[5].elements.size() == 2);
    CHECK(got[5].elements[0].str == "a");
    REQUIRE(got[5].elements[1].elements.size() == 1);
    CHECK(got[5].elements[1].elements[0].integer == 7);
    CHECK(d.next(r) == reply_decoder::result::need_more);
}

TEST_CASE("transient error replies are told apart from permanent ones", "[unit][redis]") {
    reply oom{reply::kind::error, "OOM command not allowed when used memory > 'maxmemory'", 0, {}};
    reply readonly{
        reply::kind::error, "READONLY You can't write against a read only replica.", 0, {}};
    reply wrongtype{reply::kind::error,
                    "WRONGTYPE Operation against a key holding the wrong kind of value",
                    0,
                    {}};
    reply status{reply::kind::status, "OK", 0, {}};
    CHECK(oom.is_transient_error());
    CHECK(readonly.is_transient_error());
    CHECK_FALSE(wrongtype.is_transient_error());
    CHECK_FALSE(status.is_transient_error());
}

TEST_CASE("bytes that are not RESP are bad input", "[unit][redis]") {
    reply_decoder d;
    reply r;
    std::string junk = "HTTP/1.1 200 OK\r\n";
    d.feed(junk.data(), junk.size());
    CHECK(d.next(r) == reply_decoder::result::bad_input);
    CHECK_FALSE(d.error().empty());
}

TEST_CASE("a bad number line is bad input however its bytes arrive", "[unit][redis]") {
    // Found by fuzzing: fed whole these waited for more, fed byte by byte they broke.
    for (std::string wire :
         {std::string("*3\r\n:z\r\n*65\r\n"),
          std::string("*1\r\n$") + std::string(40, '0') + "1\r\nx\r\n",
          std::string("*2\r\n:-00\r\n:1\r\n"), std::string("*1\r\n$01\r\nx\r\n")}) {
        for (bool byte_by_byte : {false, true}) {
            INFO(wire << (byte_by_byte ? " byte by byte" : " whole"));
            reply_decoder d;
            reply r;
            auto got = reply_decoder::result::need_more;
            if (byte_by_byte) {
                for (std::size_t i = 0; i < wire.size() && got == reply_decoder::result::need_more;
                     ++i) {
                    d.feed(wire.data() + i, 1);
                    got = d.next(r);
                }
            } else {
                d.feed(wire.data(), wire.size());
                got = d.next(r);
            }
            CHECK(got == reply_decoder::result::bad_input);
        }
    }
}
