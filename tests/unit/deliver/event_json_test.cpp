#include "deliver/event_json.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "support/json_members.hpp"

using namespace sluice::deliver;
using sluice::test::parse_json;
using sluice::test::string_member;

namespace {

// An entry as the publisher stores it (docs/storage.md, "Stream entries").
stream_entry stored_event() {
    return {"1764237600000-0",
            {{"specversion", "1.0"},
             {"id", "0192f0c4-7d3e-7b1a-9c55-5b1e3c0f9a10"},
             {"source", "/users"},
             {"type", "user.created"},
             {"version", "2"},
             {"time", "2026-11-27T10:00:00Z"},
             {"subject", "u-1"},
             {"datacontenttype", "application/json"},
             {"data", R"({"email":"a@b.c","tags":["x",1,null],"n":1.5e3})"}}};
}

std::string event_json(const stream_entry& e) {
    std::string out;
    append_event_json(out, e);
    return out;
}

}  // namespace

TEST_CASE("a stored event becomes its CloudEvent JSON", "[unit][deliver]") {
    auto json = event_json(stored_event());
    CHECK(json ==
          R"({"specversion":"1.0","id":"0192f0c4-7d3e-7b1a-9c55-5b1e3c0f9a10","source":"/users",)"
          R"("type":"user.created","version":2,"time":"2026-11-27T10:00:00Z","subject":"u-1",)"
          R"("datacontenttype":"application/json",)"
          R"("data":{"email":"a@b.c","tags":["x",1,null],"n":1.5e3}})");

    simdjson::dom::parser p;
    auto e = parse_json(p, json);
    CHECK(string_member(e, "specversion") == "1.0");
    CHECK(string_member(e, "type") == "user.created");
    CHECK(string_member(e, "time") == "2026-11-27T10:00:00Z");
    std::uint64_t version = 0;
    REQUIRE(e["version"].get(version) == simdjson::SUCCESS);
    CHECK(version == 2);
    CHECK(e["data"].is_object());
    simdjson::dom::element data;
    REQUIRE(e["data"].get(data) == simdjson::SUCCESS);
    CHECK(string_member(data, "email") == "a@b.c");
    CHECK(data["tags"].is_array());
}

TEST_CASE("event JSON is appended, field order kept", "[unit][deliver]") {
    std::string out = "[";
    append_event_json(out, {"1-0", {{"type", "t"}, {"id", "1"}}});
    out += ',';
    append_event_json(out, {"1-1", {{"id", "2"}, {"type", "t"}}});
    out += ']';
    CHECK(out == R"([{"type":"t","id":"1"},{"id":"2","type":"t"}])");
    CHECK(event_json({"1-0", {}}) == "{}");
}

TEST_CASE("version is a number only when it is all digits", "[unit][deliver]") {
    CHECK(event_json({"1-0", {{"version", "1"}}}) == R"({"version":1})");
    CHECK(event_json({"1-0", {{"version", "12345"}}}) == R"({"version":12345})");
    CHECK(event_json({"1-0", {{"version", ""}}}) == R"({"version":""})");
    CHECK(event_json({"1-0", {{"version", "2a"}}}) == R"({"version":"2a"})");
    CHECK(event_json({"1-0", {{"version", "-1"}}}) == R"({"version":"-1"})");
    CHECK(event_json({"1-0", {{"version", "1.5"}}}) == R"({"version":"1.5"})");
    CHECK(event_json({"1-0", {{"version", " 1"}}}) == R"({"version":" 1"})");
    // Other digit-only attributes stay strings.
    CHECK(event_json({"1-0", {{"id", "42"}, {"subject", "7"}}}) == R"({"id":"42","subject":"7"})");
}

TEST_CASE("data is copied byte for byte, whatever JSON it holds", "[unit][deliver]") {
    for (const char* data :
         {R"({"b":[1,2,{"c":"\u00e9\n"}],"a":null})", R"("just a string")", "42", "-0.5e-3", "null",
          "true", "[]", "{}", R"({"quote":"\"","slash":"\\"})"}) {
        INFO("data: " << data);
        auto json = event_json({"1-0", {{"type", "t"}, {"data", data}}});
        CHECK(json == std::string(R"({"type":"t","data":)") + data + "}");
        // The event parses, and its data is the same JSON value.
        simdjson::dom::parser p, q;
        simdjson::dom::element inside;
        REQUIRE(parse_json(p, json)["data"].get(inside) == simdjson::SUCCESS);
        CHECK(simdjson::minify(inside) == simdjson::minify(parse_json(q, data)));
    }
}

TEST_CASE("string attributes are escaped and read back unchanged", "[unit][deliver]") {
    std::string subject = std::string("a\"b\\c\nd\re\tf") + '\x01' + '\x1f' + "g/h\xc3\xa9";
    std::string source = std::string("/svc\"") + '\0' + "x";
    auto json = event_json({"1-0", {{"subject", subject}, {"source", source}}});
    CHECK(json == R"({"subject":"a\"b\\c\nd\re\tf\u0001\u001fg/h)"
                  "\xc3\xa9"
                  R"(","source":"/svc\"\u0000x"})");
    simdjson::dom::parser p;
    auto e = parse_json(p, json);
    CHECK(string_member(e, "subject") == subject);
    CHECK(string_member(e, "source") == source);
}

TEST_CASE("attribute names are escaped too", "[unit][deliver]") {
    auto json = event_json({"1-0", {{"we\"ird", "v"}, {"new\nline", "w"}}});
    CHECK(json == R"({"we\"ird":"v","new\nline":"w"})");
    simdjson::dom::parser p;
    auto e = parse_json(p, json);
    CHECK(string_member(e, "we\"ird") == "v");
    CHECK(string_member(e, "new\nline") == "w");
}

TEST_CASE("fields holding '_' (Sluice's dlq_ metadata) are left out", "[unit][deliver]") {
    auto plain = stored_event();
    auto dead = stored_event();
    dead.fields.emplace_back("dlq_entry", "1764237600000-0");
    dead.fields.emplace_back("dlq_group", "billing");
    dead.fields.emplace_back("dlq_deliveries", "5");
    dead.fields.emplace_back("dlq_reason", "ack deadline passed");
    dead.fields.emplace_back("dlq_time", "2026-11-27T10:05:00Z");
    CHECK(event_json(dead) == event_json(plain));

    auto json = event_json({"1-0",
                            {{"_", "x"},
                             {"dlq_reason", "boom"},
                             {"type", "t"},
                             {"my_ext", "y"},
                             {"trailing_", "z"},
                             {"ext", "kept"}}});
    CHECK(json == R"({"type":"t","ext":"kept"})");

    // Leaving out the first field must not leave a stray comma.
    CHECK(event_json({"1-0", {{"dlq_time", "x"}, {"type", "t"}}}) == R"({"type":"t"})");
    CHECK(event_json({"1-0", {{"dlq_time", "x"}}}) == "{}");
    simdjson::dom::parser p;
    parse_json(p, event_json({"1-0", {{"dlq_time", "x"}, {"type", "t"}, {"dlq_group", "g"}}}));
}

TEST_CASE("stream_entry::field finds a value by name", "[unit][deliver]") {
    auto e = stored_event();
    CHECK(e.field("type") == "user.created");
    CHECK(e.field("version") == "2");
    CHECK(e.field("missing").empty());
    CHECK(e.field("").empty());
    stream_entry twice{"1-0", {{"a", "first"}, {"a", "second"}}};
    CHECK(twice.field("a") == "first");
}
