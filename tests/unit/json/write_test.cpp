#include "json/write.hpp"

#include <catch2/catch.hpp>

using namespace sluice::json;

TEST_CASE("JSON escaping covers quotes, backslashes and control bytes", "[unit][json]") {
    std::string out;
    append_escaped(out, std::string_view("a\"b\\c\n\x01", 7));
    CHECK(out == R"(a\"b\\c\n\u0001)");
}

TEST_CASE("JSON escaping turns bytes that are not UTF-8 into U+FFFD", "[unit][json]") {
    auto escaped = [](std::string_view in) {
        std::string out;
        append_escaped(out, in);
        return out;
    };
    CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    CHECK(escaped("/\xff\xfe/x") == R"(/\ufffd\ufffd/x)");
    CHECK(escaped("\xc0\xaf") == R"(\ufffd\ufffd)");                      // overlong
    CHECK(escaped("\xed\xa0\x80") == R"(\ufffd\ufffd\ufffd)");            // a surrogate
    CHECK(escaped("\xf4\x90\x80\x80") == R"(\ufffd\ufffd\ufffd\ufffd)");  // past U+10FFFF
    CHECK(escaped("end\xe2\x82") == R"(end\ufffd\ufffd)");                // cut short
}

TEST_CASE("a JSON string is the escaped text between quotes", "[unit][json]") {
    CHECK(quoted("a\"b") == R"("a\"b")");
    std::string out = "x=";
    append_string(out, "\t");
    CHECK(out == R"(x="\t")");
}
