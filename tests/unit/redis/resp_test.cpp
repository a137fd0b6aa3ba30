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

TEST_CASE("replies over the caps are refused with the reason", "[unit][redis]") {
    reply_decoder d({.max_bytes = 10, .max_elements = 2});
    reply r;
    std::string big = "$11\r\nhello world\r\n";
    d.feed(big.data(), big.size());
    CHECK(d.next(r) == reply_decoder::result::bad_input);
    CHECK_THAT(d.error(), Catch::Matchers::Contains("larger than 10 bytes"));

    reply_decoder e({.max_bytes = 1000, .max_elements = 2});
    std::string wide = "*3\r\n:1\r\n:2\r\n:3\r\n";
    e.feed(wide.data(), wide.size());
    CHECK(e.next(r) == reply_decoder::result::bad_input);
    CHECK_THAT(e.error(), Catch::Matchers::Contains("more than 2 elements"));
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
