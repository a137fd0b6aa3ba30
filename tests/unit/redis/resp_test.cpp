#include "redis/resp.hpp"

#include <catch2/catch.hpp>

using namespace sluice::redis;

TEST_CASE("commands are encoded as RESP arrays of bulk strings", "[unit][redis]") {
    std::string out;
    encode_command(out, {"SET", "key", std::string_view("a\0b", 3)});
    CHECK(out == std::string("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\na\0b\r\n", 31));
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

TEST_CASE("bytes that are not RESP are bad input", "[unit][redis]") {
    reply_decoder d;
    reply r;
    std::string junk = "HTTP/1.1 200 OK\r\n";
    d.feed(junk.data(), junk.size());
    CHECK(d.next(r) == reply_decoder::result::bad_input);
    CHECK_FALSE(d.error().empty());
}
