#include "streams/request_body.hpp"

#include <catch2/catch.hpp>

using namespace sluice::streams;
using Catch::Matchers::Contains;
using sluice::deliver::start_position;

TEST_CASE("a group body is optional and its from defaults to new", "[unit][streams]") {
    start_position p;
    p.where = start_position::kind::oldest;
    CHECK_FALSE(parse_group_body("", p));
    CHECK(p.where == start_position::kind::newest);
    CHECK(p.after() == "$");
    CHECK_FALSE(parse_group_body(" \r\n", p));
    CHECK(p.after() == "$");
    CHECK_FALSE(parse_group_body("{}", p));
    CHECK(p.after() == "$");
}

TEST_CASE("a group body's from is new, start, an entry id or a time, inclusive",
          "[unit][streams]") {
    start_position p;
    REQUIRE_FALSE(parse_group_body(R"({"from":"start"})", p));
    CHECK(p.after() == "0-0");
    REQUIRE_FALSE(parse_group_body(R"({"from":"1700000000000-5"})", p));
    CHECK(p.after() == "1700000000000-4");  // reading after it includes 1700000000000-5
    REQUIRE_FALSE(parse_group_body(R"({"from":"2023-11-14T22:13:20Z"})", p));
    CHECK(p.after() == "1699999999999-18446744073709551615");
    REQUIRE_FALSE(parse_group_body(R"({"from":"new"})", p));
    CHECK(p.after() == "$");
}

TEST_CASE("a bad group body says what is expected", "[unit][streams]") {
    start_position p;
    auto malformed = parse_group_body(R"({"from":)", p);
    REQUIRE(malformed);
    CHECK(malformed->code == "malformed_json");
    auto not_object = parse_group_body(R"("start")", p);
    REQUIRE(not_object);
    CHECK(not_object->code == "invalid_body");
    auto bad_from = parse_group_body(R"({"from":"tomorrow"})", p);
    REQUIRE(bad_from);
    CHECK(bad_from->code == "invalid_body");
    CHECK_THAT(bad_from->detail, Contains("from must be `new`, `start`"));
    CHECK_THAT(bad_from->detail, Contains("got '\"tomorrow\"'"));
    auto number = parse_group_body(R"({"from":5})", p);
    REQUIRE(number);
    CHECK_THAT(number->detail, Contains("got '5'"));
    auto unknown = parse_group_body(R"({"start":"new"})", p);
    REQUIRE(unknown);
    CHECK_THAT(unknown->detail, Contains("unknown member 'start'"));
}

TEST_CASE("a selection lists entry ids or asks for all, explicitly", "[unit][streams]") {
    entry_selection s;
    REQUIRE_FALSE(parse_entry_selection(R"({"entries":["1-2","3"]})", s));
    CHECK_FALSE(s.all);
    CHECK(s.entries == std::vector<std::string>{"1-2", "3-0"});
    REQUIRE_FALSE(parse_entry_selection(R"({"all":true})", s));
    CHECK(s.all);
    CHECK(s.entries.empty());
}

TEST_CASE("a selection that is absent, empty or ambiguous is refused", "[unit][streams]") {
    entry_selection s;
    auto expect = [&](std::string_view body, std::string_view code, std::string_view text) {
        auto bad = parse_entry_selection(body, s);
        REQUIRE(bad);
        CHECK(bad->code == code);
        CHECK_THAT(bad->detail, Contains(std::string(text)));
    };
    expect("", "invalid_body", "the body is required");
    expect("  ", "invalid_body", "the body is required");
    expect("{}", "invalid_body", "nothing selected");
    expect(R"({"all":false})", "invalid_body", "all must be true");
    expect(R"({"all":"true"})", "invalid_body", "all must be true");
    expect(R"({"all":true,"entries":["1-1"]})", "invalid_body", "not both");
    expect(R"({"entries":[]})", "invalid_body", "1 to 1000");
    expect(R"({"entries":"1-1"})", "invalid_body", "array");
    expect(R"({"entries":["1-1","x"]})", "invalid_body", "entries[1] must be an entry id");
    expect(R"({"entries":[7]})", "invalid_body", "entries[0]");
    expect(R"({"ids":["1-1"]})", "invalid_body", "unknown member 'ids'");
    expect("[]", "invalid_body", "JSON object");
    expect("{", "malformed_json", "not valid JSON");
    std::string many = R"({"entries":[)";
    for (int i = 0; i < 1001; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "-0\"";
    expect(many + "]}", "invalid_body", "1 to 1000");
}
