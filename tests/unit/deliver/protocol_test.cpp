#include "deliver/protocol.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>
#include <limits>

#include "support/json_members.hpp"

using namespace sluice::deliver;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using sluice::test::bool_member;
using sluice::test::parse_json;
using sluice::test::string_member;
using sluice::test::uint_member;

namespace {

using kind = client_frame::kind;

client_frame accepted(const std::string& text) {
    INFO("frame: " << text);
    auto r = parse_client_frame(text);
    INFO("refused: " << r.error.code << ": " << r.error.message);
    REQUIRE(r.frame);
    return *r.frame;
}

frame_error refused(const std::string& text) {
    INFO("frame: " << text);
    auto r = parse_client_frame(text);
    REQUIRE_FALSE(r.frame);
    return r.error;
}

// A refusal with this code, message and echoed id.
void check_refused(const std::string& text, const std::string& code, const std::string& id,
                   const std::string& message) {
    INFO("frame: " << text);
    auto e = refused(text);
    CHECK(e.code == code);
    CHECK(e.id == id);
    CHECK(e.message == message);
}

std::string subscribe_with(const std::string& members) {
    return R"({"op":"subscribe","id":"s1","type":"user.created",)" + members + "}";
}

std::string entries_frame(const std::string& op, const std::string& entries,
                          const std::string& more = "") {
    return R"({"op":")" + op + R"(","sub":"s1","entries":)" + entries + more + "}";
}

// `n` distinct ids as a JSON array.
std::string id_list(std::size_t n) {
    std::string out = "[";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ',';
        out += "\"1764237600000-" + std::to_string(i) + '"';
    }
    return out + ']';
}

const std::string window_range = "`window` must be an integer from 1 to 10000";
const std::string timeout_range = "`ack_timeout_ms` must be an integer from 1 to 86400000";
const std::string delay_range = "`delay_ms` must be an integer from 0 to 86400000";
const std::string entries_count = "`entries` must hold 1 to 1000 ids";
const std::string entries_form = "`entries` must hold stream entry ids such as \"1764237600000-0\"";
const std::string entries_type = "`entries` must be an array of stream entry ids";
const std::string group_rule = "`group` must be 1 to 128 characters of A-Z a-z 0-9 . _ : -";

std::string position_rule(const std::string& got) {
    return "`from` must be \"new\", \"start\", a stream entry id such as \"1764237600000-0\", or "
           "an RFC 3339 time; got \"" +
           got + "\"";
}

}  // namespace

TEST_CASE("a minimal subscribe is fan-out from new with the default window", "[unit][deliver]") {
    auto f = accepted(R"({"op":"subscribe","id":"s1","type":"user.created"})");
    CHECK(f.op == kind::subscribe);
    CHECK(f.id == "s1");
    CHECK(f.type == "user.created");
    CHECK(f.group.empty());
    CHECK(f.from.where == start_position::kind::newest);
    CHECK(f.from_text == "new");
    CHECK(f.window == 100);
    CHECK(f.window == default_window);
    CHECK_FALSE(f.ack_timeout_ms);
    CHECK(f.sub.empty());
    CHECK(f.entries.empty());
    CHECK_FALSE(f.delay_ms);
    CHECK(f.reason.empty());
}

TEST_CASE("a subscribe with every member", "[unit][deliver]") {
    auto f = accepted(
        R"({"op":"subscribe","id":"billing-1","type":"order.placed","group":"Billing.v2:eu_west-1",)"
        R"("from":"start","window":250,"ack_timeout_ms":30000})");
    CHECK(f.op == kind::subscribe);
    CHECK(f.id == "billing-1");
    CHECK(f.type == "order.placed");
    CHECK(f.group == "Billing.v2:eu_west-1");
    CHECK(f.from.where == start_position::kind::oldest);
    CHECK(f.from_text == "start");
    CHECK(f.window == 250);
    REQUIRE(f.ack_timeout_ms);
    CHECK(*f.ack_timeout_ms == 30000);

    // Member order does not matter, nor do unknown members.
    auto g = accepted(
        R"({"window":7,"from":"new","group":"g","type":"t","id":"x","op":"subscribe","extra":[1]})");
    CHECK(g.id == "x");
    CHECK(g.type == "t");
    CHECK(g.group == "g");
    CHECK(g.window == 7);
}

TEST_CASE("subscribe reads every form of from", "[unit][deliver]") {
    auto fresh = accepted(subscribe_with(R"("from":"new")"));
    CHECK(fresh.from.where == start_position::kind::newest);
    CHECK(fresh.from_text == "new");

    auto oldest = accepted(subscribe_with(R"("from":"start")"));
    CHECK(oldest.from.where == start_position::kind::oldest);
    CHECK(oldest.from_text == "start");

    auto id = accepted(subscribe_with(R"("from":"1764237600000-3")"));
    CHECK(id.from.where == start_position::kind::at);
    CHECK(id.from.first == entry_id{1764237600000, 3});
    CHECK(id.from.after() == "1764237600000-2");
    CHECK(id.from_text == "1764237600000-3");

    auto bare = accepted(subscribe_with(R"("from":"1764237600000")"));
    CHECK(bare.from.where == start_position::kind::at);
    CHECK(bare.from.first == entry_id{1764237600000, 0});
    CHECK(bare.from_text == "1764237600000");

    auto utc = accepted(subscribe_with(R"("from":"2026-11-27T10:00:00Z")"));
    CHECK(utc.from.where == start_position::kind::at);
    CHECK(utc.from.first == entry_id{1'795'773'600'000, 0});
    CHECK(utc.from_text == "2026-11-27T10:00:00Z");

    auto offset = accepted(subscribe_with(R"("from":"2026-11-27T10:00:00.123+01:00")"));
    CHECK(offset.from.where == start_position::kind::at);
    CHECK(offset.from.first == entry_id{1'795'770'000'123, 0});
    CHECK(offset.from.after() == "1795770000122-18446744073709551615");
    CHECK(offset.from_text == "2026-11-27T10:00:00.123+01:00");

    auto west = accepted(subscribe_with(R"("from":"2026-11-27T10:15:00.5-05:30")"));
    CHECK(west.from.first == entry_id{1'795'794'300'500, 0});
}

TEST_CASE("subscribe refuses a from that is no position", "[unit][deliver]") {
    for (const char* bad : {"yesterday", "", "New", "1-x", "2025-02-29T00:00:00Z",
                            "2026-13-01T00:00:00Z", "2026-11-27T10:00:00"}) {
        std::string from = bad;
        check_refused(subscribe_with(R"("from":")" + from + '"'), "invalid_position", "s1",
                      position_rule(from));
    }
    // Not a string at all, or longer than any position: the frame is wrong.
    check_refused(subscribe_with(R"("from":0)"), "invalid_frame", "s1", "`from` must be a string");
    check_refused(subscribe_with(R"("from":null)"), "invalid_frame", "s1",
                  "`from` must be a string");
    check_refused(subscribe_with(R"("from":")" + std::string(65, '1') + '"'), "invalid_frame", "s1",
                  "`from` is longer than 64 bytes");
}

TEST_CASE("subscribe window bounds", "[unit][deliver]") {
    CHECK(accepted(subscribe_with(R"("window":1)")).window == 1);
    CHECK(accepted(subscribe_with(R"("window":10000)")).window == 10000);
    CHECK(accepted(subscribe_with(R"("window":10000)")).window == max_window);
    for (const char* bad : {"0", "10001", "-1", "1.5", "100.0", "1e2", "\"10\"", "true", "null",
                            "[10]", "4294967297", "18446744073709551615"}) {
        check_refused(subscribe_with(std::string(R"("window":)") + bad), "invalid_frame", "s1",
                      window_range);
    }
}

TEST_CASE("subscribe ack_timeout_ms bounds", "[unit][deliver]") {
    auto low = accepted(subscribe_with(R"("group":"g","ack_timeout_ms":1)"));
    REQUIRE(low.ack_timeout_ms);
    CHECK(*low.ack_timeout_ms == 1);
    auto high = accepted(subscribe_with(R"("group":"g","ack_timeout_ms":86400000)"));
    REQUIRE(high.ack_timeout_ms);
    CHECK(*high.ack_timeout_ms == 86'400'000);
    for (const char* bad : {"0", "86400001", "-5", "2.5", "\"30000\"", "null"}) {
        check_refused(subscribe_with(std::string(R"("ack_timeout_ms":)") + bad), "invalid_frame",
                      "s1", timeout_range);
    }
}

TEST_CASE("subscribe id and type are required strings of bounded length", "[unit][deliver]") {
    // Without a usable `id` there is nothing to echo.
    check_refused(R"({"op":"subscribe","type":"t"})", "invalid_frame", "", "`id` is required");
    check_refused(R"({"op":"subscribe","id":"","type":"t"})", "invalid_frame", "",
                  "`id` must not be empty");
    check_refused(R"({"op":"subscribe","id":7,"type":"t"})", "invalid_frame", "",
                  "`id` must be a string");
    check_refused(R"({"op":"subscribe","id":")" + std::string(129, 'i') + R"(","type":"t"})",
                  "invalid_frame", "", "`id` is longer than 128 bytes");
    CHECK(accepted(R"({"op":"subscribe","id":")" + std::string(128, 'i') + R"(","type":"t"})")
              .id.size() == 128);

    // Once the id is known, it is echoed.
    check_refused(R"({"op":"subscribe","id":"s1"})", "invalid_frame", "s1", "`type` is required");
    check_refused(R"({"op":"subscribe","id":"s1","type":""})", "invalid_frame", "s1",
                  "`type` must not be empty");
    check_refused(R"({"op":"subscribe","id":"s1","type":["t"]})", "invalid_frame", "s1",
                  "`type` must be a string");
    check_refused(R"({"op":"subscribe","id":"s1","type":")" + std::string(257, 't') + R"("})",
                  "invalid_frame", "s1", "`type` is longer than 256 bytes");
    CHECK(accepted(R"({"op":"subscribe","id":"s1","type":")" + std::string(256, 't') + R"("})")
              .type.size() == 256);

    // Ids are opaque: any characters, kept as sent.
    auto odd = accepted(R"({"op":"subscribe","id":"a \"b\"\n\u00e9","type":"t"})");
    CHECK(odd.id == "a \"b\"\n\xc3\xa9");
}

TEST_CASE("subscribe group names", "[unit][deliver]") {
    CHECK(accepted(subscribe_with(R"("group":"a")")).group == "a");
    CHECK(accepted(subscribe_with(R"("group":"AZaz09._:-")")).group == "AZaz09._:-");
    std::string longest(128, 'g');
    CHECK(accepted(subscribe_with(R"("group":")" + longest + '"')).group == longest);

    for (const char* bad : {"", "a b", "a/b", "a*", "caf\\u00e9", "tab\\t", "{g}"}) {
        check_refused(subscribe_with(std::string(R"("group":")") + bad + '"'), "invalid_group",
                      "s1", group_rule);
    }
    // Too long is an invalid group name too, as for PUT /v1/types/{type}/groups/{group}.
    check_refused(subscribe_with(R"("group":")" + std::string(129, 'g') + '"'), "invalid_group",
                  "s1", group_rule);
    check_refused(subscribe_with(R"("group":5)"), "invalid_frame", "s1",
                  "`group` must be a string");
    check_refused(subscribe_with(R"("group":null)"), "invalid_frame", "s1",
                  "`group` must be a string");
}

TEST_CASE("valid_group_name", "[unit][deliver]") {
    CHECK(valid_group_name("g"));
    CHECK(valid_group_name("billing.v2:eu_west-1"));
    CHECK(valid_group_name(std::string(128, 'x')));
    CHECK_FALSE(valid_group_name(""));
    CHECK_FALSE(valid_group_name(std::string(129, 'x')));
    CHECK_FALSE(valid_group_name("a b"));
    CHECK_FALSE(valid_group_name("a\nb"));
    CHECK_FALSE(valid_group_name(std::string_view("a\0b", 3)));
    CHECK_FALSE(valid_group_name("caf\xc3\xa9"));
    for (char c : std::string("/\\*?{}[]\"',;=+@#$%&!~`|<>()")) {
        INFO("char: " << c);
        CHECK_FALSE(valid_group_name(std::string("a") + c));
    }
}

TEST_CASE("ack, nack and extend carry a sub and entry ids", "[unit][deliver]") {
    auto ack = accepted(entries_frame("ack", R"(["1764237600000-0","1764237600001-7"])"));
    CHECK(ack.op == kind::ack);
    CHECK(ack.sub == "s1");
    CHECK(ack.entries == std::vector<std::string>{"1764237600000-0", "1764237600001-7"});
    CHECK_FALSE(ack.delay_ms);
    CHECK(ack.reason.empty());

    auto extend = accepted(entries_frame("extend", R"(["0-1"])"));
    CHECK(extend.op == kind::extend);
    CHECK(extend.sub == "s1");
    CHECK(extend.entries == std::vector<std::string>{"0-1"});

    auto nack = accepted(entries_frame("nack", R"(["5-5"])"));
    CHECK(nack.op == kind::nack);
    CHECK(nack.sub == "s1");
    CHECK(nack.entries == std::vector<std::string>{"5-5"});
    CHECK_FALSE(nack.delay_ms);
    CHECK(nack.reason.empty());

    // Ids are kept as the client wrote them, duplicates and all.
    auto raw = accepted(entries_frame("ack", R"(["007-01","7-1","7-1"])"));
    CHECK(raw.entries == std::vector<std::string>{"007-01", "7-1", "7-1"});

    auto huge = accepted(entries_frame("ack", R"(["18446744073709551615-18446744073709551615"])"));
    CHECK(huge.entries == std::vector<std::string>{"18446744073709551615-18446744073709551615"});
}

TEST_CASE("nack delay_ms and reason", "[unit][deliver]") {
    auto f =
        accepted(entries_frame("nack", R"(["1-0"])", R"(,"delay_ms":1500,"reason":"db down")"));
    REQUIRE(f.delay_ms);
    CHECK(*f.delay_ms == 1500);
    CHECK(f.reason == "db down");

    auto zero = accepted(entries_frame("nack", R"(["1-0"])", R"(,"delay_ms":0)"));
    REQUIRE(zero.delay_ms);
    CHECK(*zero.delay_ms == 0);
    auto day = accepted(entries_frame("nack", R"(["1-0"])", R"(,"delay_ms":86400000)"));
    REQUIRE(day.delay_ms);
    CHECK(*day.delay_ms == 86'400'000);
    for (const char* bad : {"86400001", "-1", "0.5", "\"100\"", "null"}) {
        check_refused(entries_frame("nack", R"(["1-0"])", std::string(R"(,"delay_ms":)") + bad),
                      "invalid_frame", "s1", delay_range);
    }

    auto empty_reason = accepted(entries_frame("nack", R"(["1-0"])", R"(,"reason":"")"));
    CHECK(empty_reason.reason.empty());
    std::string longest(1024, 'r');
    CHECK(accepted(entries_frame("nack", R"(["1-0"])", R"(,"reason":")" + longest + '"')).reason ==
          longest);
    check_refused(entries_frame("nack", R"(["1-0"])", R"(,"reason":")" + longest + "r\""),
                  "invalid_frame", "s1", "`reason` is longer than 1024 bytes");
    check_refused(entries_frame("nack", R"(["1-0"])", R"(,"reason":42)"), "invalid_frame", "s1",
                  "`reason` must be a string");
    auto escaped = accepted(entries_frame("nack", R"(["1-0"])", R"(,"reason":"a\"b\n\u0001")"));
    CHECK(escaped.reason == std::string("a\"b\n\x01"));

    // delay_ms and reason belong to nack: ack and extend ignore them.
    auto ack = accepted(entries_frame("ack", R"(["1-0"])", R"(,"delay_ms":-1,"reason":7)"));
    CHECK_FALSE(ack.delay_ms);
    CHECK(ack.reason.empty());
    auto extend = accepted(entries_frame("extend", R"(["1-0"])", R"(,"delay_ms":5)"));
    CHECK_FALSE(extend.delay_ms);
}

TEST_CASE("entries lists hold 1 to 1000 stream entry ids", "[unit][deliver]") {
    for (const char* op : {"ack", "nack", "extend"}) {
        INFO("op: " << op);
        auto full = accepted(entries_frame(op, id_list(1000)));
        REQUIRE(full.entries.size() == 1000);
        CHECK(full.entries.front() == "1764237600000-0");
        CHECK(full.entries.back() == "1764237600000-999");

        check_refused(entries_frame(op, "[]"), "invalid_frame", "s1", entries_count);
        check_refused(entries_frame(op, id_list(1001)), "invalid_frame", "s1", entries_count);

        for (const char* bad : {R"("1-0")", "null", "{}", "5"}) {
            check_refused(entries_frame(op, bad), "invalid_frame", "s1", entries_type);
        }
        check_refused(std::string(R"({"op":")") + op + R"(","sub":"s1"})", "invalid_frame", "s1",
                      entries_type);

        for (const char* bad :
             {R"(["not-an-id"])", R"(["5"])", R"(["1-0",""])", R"([1])", R"(["1-0",null])",
              R"([["1-0"]])", R"(["-1"])", R"(["1-"])", R"(["1-2-3"])", R"([" 1-0"])",
              R"(["18446744073709551616-0"])", R"(["0-18446744073709551616"])",
              R"(["2026-11-27T10:00:00Z"])", R"(["new"])"}) {
            check_refused(entries_frame(op, bad), "invalid_frame", "s1", entries_form);
        }
    }
}

TEST_CASE("ack, nack, extend and unsubscribe need a sub", "[unit][deliver]") {
    for (const char* op : {"ack", "nack", "extend", "unsubscribe"}) {
        std::string head = std::string(R"({"op":")") + op + '"';
        INFO("op: " << op);
        check_refused(head + R"(,"entries":["1-0"]})", "invalid_frame", "", "`sub` is required");
        check_refused(head + R"(,"sub":"","entries":["1-0"]})", "invalid_frame", "",
                      "`sub` must not be empty");
        check_refused(head + R"(,"sub":1,"entries":["1-0"]})", "invalid_frame", "",
                      "`sub` must be a string");
        check_refused(head + R"(,"sub":")" + std::string(129, 's') + R"(","entries":["1-0"]})",
                      "invalid_frame", "", "`sub` is longer than 128 bytes");
        CHECK(accepted(head + R"(,"sub":")" + std::string(128, 's') + R"(","entries":["1-0"]})")
                  .sub.size() == 128);
    }
}

TEST_CASE("unsubscribe", "[unit][deliver]") {
    auto f = accepted(R"({"op":"unsubscribe","sub":"s1"})");
    CHECK(f.op == kind::unsubscribe);
    CHECK(f.sub == "s1");
    CHECK(f.entries.empty());
    // Other members are ignored.
    auto g = accepted(R"({"op":"unsubscribe","sub":"s2","entries":"junk","id":"x"})");
    CHECK(g.op == kind::unsubscribe);
    CHECK(g.sub == "s2");
    CHECK(g.entries.empty());
}

TEST_CASE("frames that are not JSON are malformed_json", "[unit][deliver]") {
    for (const char* bad : {"{not json", "", "   ", R"({"op":"ack")", R"({"op":"ack",})",
                            R"({'op':'ack'})", R"({"op":"unsubscribe","sub":"s1"} x)",
                            R"({"op":"unsubscribe","sub":"s1"}{})", "\xff\xfe"}) {
        INFO("frame: " << bad);
        auto e = refused(bad);
        CHECK(e.code == "malformed_json");
        CHECK(e.id.empty());
        CHECK_THAT(e.message, StartsWith("the frame is not JSON: "));
        CHECK(e.message.size() > std::string("the frame is not JSON: ").size());
    }
}

TEST_CASE("JSON that is not an object with a string op is invalid_frame", "[unit][deliver]") {
    const std::string not_object = "a frame must be a JSON object with an `op` member";
    for (const char* bad : {"[]", "42", R"("op")", "null", "true", R"([{"op":"ack"}])"}) {
        check_refused(bad, "invalid_frame", "", not_object);
    }
    check_refused("{}", "invalid_frame", "", "`op` is required");
    check_refused(R"({"op":5})", "invalid_frame", "", "`op` must be a string");
    check_refused(R"({"op":null})", "invalid_frame", "", "`op` must be a string");
    check_refused(R"({"op":""})", "invalid_frame", "", "`op` must not be empty");
    check_refused(R"({"op":")" + std::string(33, 'x') + R"("})", "invalid_frame", "",
                  "`op` is longer than 32 bytes");
    // The frame's id or sub is echoed, so the client can tell which request failed.
    check_refused(R"({"id":"s1","type":"t"})", "invalid_frame", "s1", "`op` is required");
    check_refused(R"({"op":1,"sub":"s2"})", "invalid_frame", "s2", "`op` must be a string");
}

TEST_CASE("an unknown op is unknown_op, with the frame's id or sub", "[unit][deliver]") {
    auto message = [](const std::string& op) {
        return "unknown `op` \"" + op +
               "\"; expected subscribe, ack, nack, extend, unsubscribe or auth";
    };
    check_refused(R"({"op":"dance"})", "unknown_op", "", message("dance"));
    check_refused(R"({"op":"Subscribe","id":"s1","type":"t"})", "unknown_op", "s1",
                  message("Subscribe"));
    check_refused(R"({"op":"acknowledge","sub":"s2","entries":["1-0"]})", "unknown_op", "s2",
                  message("acknowledge"));
    check_refused(R"({"op":"x","id":"s1","sub":"s2"})", "unknown_op", "s1", message("x"));
    check_refused(R"({"op":"x","id":5,"sub":"s2"})", "unknown_op", "s2", message("x"));
    check_refused(R"({"op":"x","id":"","sub":"s2"})", "unknown_op", "s2", message("x"));
    check_refused(R"({"op":"x","id":")" + std::string(129, 'i') + R"("})", "unknown_op", "",
                  message("x"));
    check_refused(R"({"op":" ack"})", "unknown_op", "", message(" ack"));
}

TEST_CASE("parsing one frame after another keeps nothing from the last", "[unit][deliver]") {
    auto a = accepted(subscribe_with(R"("group":"g","window":5,"ack_timeout_ms":9)"));
    CHECK(refused("{oops").code == "malformed_json");
    auto b = accepted(R"({"op":"subscribe","id":"s2","type":"t"})");
    CHECK(a.group == "g");
    CHECK(b.group.empty());
    CHECK(b.window == default_window);
    CHECK_FALSE(b.ack_timeout_ms);
}

TEST_CASE("error frames are JSON with the id echoed or null", "[unit][deliver]") {
    CHECK(error_frame({"", "malformed_json", "bad"}) ==
          R"({"op":"error","id":null,"code":"malformed_json","message":"bad"})");
    CHECK(error_frame({"s1", "invalid_frame", "`type` is required"}) ==
          R"({"op":"error","id":"s1","code":"invalid_frame","message":"`type` is required"})");

    std::string id = std::string("s\"1\\\n\t") + '\x01' + '\x1f' + "\xc3\xa9";
    std::string message = std::string("got \"x\"\r\n") + '\0' + "end";
    auto json = error_frame({id, "invalid_position", message});
    CHECK(json == R"({"op":"error","id":"s\"1\\\n\t\u0001\u001f)"
                  "\xc3\xa9"
                  R"(","code":"invalid_position","message":"got \"x\"\r\n\u0000end"})");
    simdjson::dom::parser p;
    auto e = parse_json(p, json);
    CHECK(string_member(e, "op") == "error");
    CHECK(string_member(e, "id") == id);
    CHECK(string_member(e, "code") == "invalid_position");
    CHECK(string_member(e, "message") == message);

    auto null_id = parse_json(p, error_frame({"", "unknown_op", "m"}));
    CHECK(null_id["id"].is_null());
}

TEST_CASE("every refusal makes an error frame that reads back", "[unit][deliver]") {
    struct sample {
        std::string frame, code, id;
    };
    std::vector<sample> samples = {
        {"{not json", "malformed_json", ""},
        {"[1]", "invalid_frame", ""},
        {subscribe_with(R"("window":0)"), "invalid_frame", "s1"},
        {R"({"op":"fly","id":"s\"\n1"})", "unknown_op", "s\"\n1"},
        {R"({"op":"subscribe","id":"q\"\t","type":"t","group":"a b"})", "invalid_group", "q\"\t"},
        {R"({"op":"subscribe","id":"s1","type":"t","from":"\"\u0002\\"})", "invalid_position",
         "s1"},
        {entries_frame("ack", "[]"), "invalid_frame", "s1"},
    };
    for (const auto& s : samples) {
        INFO("frame: " << s.frame);
        auto e = refused(s.frame);
        CHECK(e.code == s.code);
        CHECK(e.id == s.id);
        auto json = error_frame(e);
        simdjson::dom::parser p;
        auto doc = parse_json(p, json);
        CHECK(string_member(doc, "op") == "error");
        CHECK(string_member(doc, "code") == s.code);
        CHECK(string_member(doc, "message") == e.message);
        if (s.id.empty())
            CHECK(doc["id"].is_null());
        else
            CHECK(string_member(doc, "id") == s.id);
    }
    // The bad position is quoted back in the message, escaped in the frame.
    auto e = refused(R"({"op":"subscribe","id":"s1","type":"t","from":"\"\u0002\\"})");
    CHECK_THAT(e.message, Contains(std::string("got \"\"\x02\\\"")));
}

TEST_CASE("unsubscribed frames", "[unit][deliver]") {
    CHECK(unsubscribed_frame("s1", "client") ==
          R"({"op":"unsubscribed","sub":"s1","reason":"client"})");
    std::string sub = std::string("s\"") + '\x7f' + '\x10';
    std::string reason = "type \"t\" was deleted\n";
    auto json = unsubscribed_frame(sub, reason);
    CHECK(json == std::string(R"({"op":"unsubscribed","sub":"s\")") + '\x7f' +
                      R"(\u0010","reason":"type \"t\" was deleted\n"})");
    simdjson::dom::parser p;
    auto e = parse_json(p, json);
    CHECK(string_member(e, "op") == "unsubscribed");
    CHECK(string_member(e, "sub") == sub);
    CHECK(string_member(e, "reason") == reason);
}

TEST_CASE("subscribed frames for fan-out and for groups", "[unit][deliver]") {
    subscribed_info fan;
    fan.id = "s1";
    fan.type = "user.created";
    fan.from = "new";
    fan.window = 100;
    fan.ack_timeout_ms = 30000;  // not shown without a group
    fan.created = true;
    CHECK(subscribed_frame(fan) ==
          R"({"op":"subscribed","id":"s1","type":"user.created","group":null,"from":"new",)"
          R"("window":100})");

    subscribed_info group;
    group.id = "b1";
    group.type = "order.placed";
    group.group = "billing";
    group.from = "2026-11-27T10:00:00.123+01:00";
    group.window = 10000;
    group.ack_timeout_ms = 86'400'000;
    group.created = true;
    CHECK(subscribed_frame(group) ==
          R"({"op":"subscribed","id":"b1","type":"order.placed","group":"billing",)"
          R"("from":"2026-11-27T10:00:00.123+01:00","window":10000,"ack_timeout_ms":86400000,)"
          R"("created":true})");
    group.created = false;
    group.ack_timeout_ms = 0;
    CHECK_THAT(subscribed_frame(group), Contains(R"("ack_timeout_ms":0,"created":false})"));

    std::string id = "a\"b\\\n";
    std::string from = std::string("x") + '\x03';
    subscribed_info odd;
    odd.id = id;
    odd.type = "t";
    odd.group = "g";
    odd.from = from;
    odd.window = 1;
    odd.ack_timeout_ms = 5;
    simdjson::dom::parser p;
    auto e = parse_json(p, subscribed_frame(odd));
    CHECK(string_member(e, "op") == "subscribed");
    CHECK(string_member(e, "id") == id);
    CHECK(string_member(e, "type") == "t");
    CHECK(string_member(e, "group") == "g");
    CHECK(string_member(e, "from") == from);
    CHECK(uint_member(e, "window") == 1);
    CHECK(uint_member(e, "ack_timeout_ms") == 5);
    CHECK_FALSE(bool_member(e, "created"));

    auto f = parse_json(p, subscribed_frame(fan));
    CHECK(f["group"].is_null());
    CHECK(f["ack_timeout_ms"].error() == simdjson::NO_SUCH_FIELD);
    CHECK(f["created"].error() == simdjson::NO_SUCH_FIELD);
}

TEST_CASE("event frame heads wrap the shared event JSON", "[unit][deliver]") {
    std::string out = "kept";
    append_event_frame_head(out, "s1", "1764237600000-0", 1);
    CHECK(out == R"(kept{"op":"event","sub":"s1","entry":"1764237600000-0","delivery":1,"event":)");

    std::string sub = "s\"\n1";
    std::string frame;
    append_event_frame_head(frame, sub, "1764237600000-42",
                            std::numeric_limits<std::uint64_t>::max());
    frame += R"({"type":"t","data":{"a":[1]}})";
    frame += '}';
    CHECK(frame == R"({"op":"event","sub":"s\"\n1","entry":"1764237600000-42",)"
                   R"("delivery":18446744073709551615,"event":{"type":"t","data":{"a":[1]}}})");
    simdjson::dom::parser p;
    auto e = parse_json(p, frame);
    CHECK(string_member(e, "op") == "event");
    CHECK(string_member(e, "sub") == sub);
    CHECK(string_member(e, "entry") == "1764237600000-42");
    CHECK(uint_member(e, "delivery") == std::numeric_limits<std::uint64_t>::max());
    simdjson::dom::element event;
    REQUIRE(e["event"].get(event) == simdjson::SUCCESS);
    CHECK(string_member(event, "type") == "t");
}
