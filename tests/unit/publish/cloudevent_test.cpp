#include "publish/cloudevent.hpp"

#include <catch2/catch.hpp>
#include <map>

using namespace sluice::publish;
using Catch::Matchers::Contains;

namespace {

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
    return p.parse(json).value();
}

struct map_headers final : header_source {
    std::map<std::string, std::string> values;
    std::optional<std::string_view> get(std::string_view name) const override {
        auto it = values.find(std::string(name));
        if (it == values.end()) return std::nullopt;
        return std::string_view(it->second);
    }
};

}  // namespace

TEST_CASE("the body mode follows Content-Type and ce- headers", "[unit][publish]") {
    CHECK(mode_for("application/cloudevents+json; charset=utf-8", false) == body_mode::structured);
    CHECK(mode_for("Application/CloudEvents-Batch+JSON", false) == body_mode::batch);
    CHECK(mode_for("application/json", true) == body_mode::binary);
    CHECK(mode_for("application/json", false) == body_mode::envelope);
    CHECK(mode_for("text/plain", true) == body_mode::unsupported);
    CHECK(mode_for("", false) == body_mode::unsupported);
}

TEST_CASE("structured events are read with their attributes and extensions", "[unit][publish]") {
    simdjson::dom::parser p;
    event_error error;
    auto e = read_structured(
        parse(p, R"({"specversion":"1.0","type":"user.created","id":"1","source":"/svc",
        "version":"2","time":"2026-11-27T10:00:00Z","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "data":{"a":1}})"),
        error);
    REQUIRE(e);
    CHECK(e->type == "user.created");
    CHECK(e->version == 2);
    CHECK(e->id == "1");
    CHECK(e->source == "/svc");
    CHECK(e->traceparent.size() == 55);
    CHECK(e->has_data);

    CHECK_FALSE(read_structured(parse(p, R"({"specversion":"0.3","type":"t","data":1})"), error));
    CHECK(error.problem.code == "invalid_cloudevent");
    CHECK_FALSE(read_structured(parse(p, R"({"specversion":"1.0","data":1})"), error));
    CHECK_THAT(error.problem.detail, Contains("`type` is required"));
    CHECK_FALSE(
        read_structured(parse(p, R"({"specversion":"1.0","type":"t","time":"yesterday"})"), error));
    CHECK_THAT(error.problem.detail, Contains("RFC 3339"));
    CHECK_FALSE(
        read_structured(parse(p, R"({"specversion":"1.0","type":"t","version":0})"), error));
    CHECK_FALSE(read_structured(
        parse(p, R"({"specversion":"1.0","type":"t","datacontenttype":"text/xml"})"), error));
    CHECK(error.problem.status == 415);
}

TEST_CASE("attributes are read in one pass with the checks of a lookup by name",
          "[unit][publish]") {
    simdjson::dom::parser p;
    event_error error;
    // The first of duplicated names wins, as with a lookup by name.
    auto e = read_structured(
        parse(p, R"({"specversion":"1.0","type":"a","type":"b","id":"x","id":7,"data":1})"), error);
    REQUIRE(e);
    CHECK(e->type == "a");
    CHECK(e->id == "x");
    // Unknown extension attributes are allowed in structured mode.
    CHECK(read_structured(parse(p, R"({"specversion":"1.0","type":"t","ext1":true})"), error));
    CHECK_FALSE(
        read_structured(parse(p, R"({"specversion":"1.0","type":"t","subject":["s"]})"), error));
    CHECK(error.problem.detail == "`subject` must be a string");
    CHECK_FALSE(read_structured(
        parse(p, R"({"type":"t","specversion":"1.0","data_base64":"AA=="})"), error));
    CHECK(error.problem.status == 415);
    CHECK_FALSE(read_structured(parse(p, R"({"type":"t"})"), error));
    CHECK_THAT(error.problem.detail, Contains("specversion"));
    // A CloudEvents attribute the envelope does not take is an unknown member there,
    // named in the order the body gives them.
    CHECK_FALSE(
        read_envelope(parse(p, R"({"type":"t","traceparent":"x","zz":1,"data":{}})"), error));
    CHECK_THAT(error.problem.detail, Contains("unknown member `traceparent`"));
    // A bad known member is reported before an unknown one.
    CHECK_FALSE(read_envelope(parse(p, R"({"zz":1,"type":"t","time":5})"), error));
    CHECK(error.problem.detail == "`time` must be a string");
}

TEST_CASE("an invalid traceparent is dropped, as W3C trace context says", "[unit][publish]") {
    simdjson::dom::parser p;
    event_error error;
    auto e = read_structured(
        parse(p, R"({"specversion":"1.0","type":"t","traceparent":"garbage","tracestate":"x=1"})"),
        error);
    REQUIRE(e);
    CHECK(e->traceparent.empty());
    CHECK(e->tracestate.empty());
    CHECK(is_valid_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK_FALSE(is_valid_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
}

TEST_CASE("the simple envelope and binary mode", "[unit][publish]") {
    simdjson::dom::parser p;
    event_error error;
    auto e = read_envelope(
        parse(p, R"({"type":"order.placed","version":1,"data":{"x":1},"subject":"o-1"})"), error);
    REQUIRE(e);
    CHECK(e->subject == "o-1");
    CHECK_FALSE(read_envelope(parse(p, R"({"type":"t","dat":{}})"), error));
    CHECK_THAT(error.problem.detail, Contains("unknown member `dat`"));

    map_headers h;
    h.values = {{"ce-specversion", "1.0"},
                {"ce-type", "user.created"},
                {"ce-id", "42"},
                {"ce-version", "2"},
                {"content-type", "application/json"}};
    auto b = read_binary(h, parse(p, R"({"email":"a@b.c"})"), error);
    REQUIRE(b);
    CHECK(b->id == "42");
    CHECK(b->version == 2);
    h.values.erase("ce-type");
    CHECK_FALSE(read_binary(h, parse(p, "{}"), error));
}

TEST_CASE("JSON syntax errors are located by line and column", "[unit][publish]") {
    auto at = locate_json_error("{\n  \"a\": 1,\n  \"b\": tru\n}");
    CHECK(at.line == 3);
    CHECK(at.column == 8);
    auto end = locate_json_error("{\"a\": [1, 2");
    CHECK(end.line == 1);
    CHECK(end.column == 12);
}

TEST_CASE("a tracestate over W3C's bounds is cut as the spec asks", "[unit][publish]") {
    std::string storage;
    CHECK(bound_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", storage) ==
          "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    // Over 512 characters: members over 128 characters go first...
    std::string big = "a=" + std::string(200, 'x');
    std::string members;
    for (int i = 0; i < 10; ++i) members += ",m" + std::to_string(i) + "=" + std::string(30, 'v');
    auto cut = std::string(bound_tracestate("first=1," + big + "," + big + members, storage));
    CHECK(cut.size() <= 512);
    CHECK(cut.find(std::string(200, 'x')) == std::string::npos);
    CHECK(cut.starts_with("first=1,m0="));
    CHECK(cut.ends_with("m9=" + std::string(30, 'v')));
    // ...then members from the end.
    std::string many;
    for (int i = 0; i < 40; ++i)
        many += (i ? "," : "") + ("k" + std::to_string(i) + "=" + std::string(20, 'v'));
    cut = std::string(bound_tracestate(many, storage));
    CHECK(cut.size() <= 512);
    CHECK(cut.starts_with("k0="));
    CHECK(cut.find("k39=") == std::string::npos);
    // More than 32 members, even short ones: the first 32 stay.
    std::string short_many;
    for (int i = 0; i < 40; ++i) short_many += (i ? "," : "") + ("k" + std::to_string(i) + "=1");
    cut = std::string(bound_tracestate(short_many, storage));
    CHECK(cut.ends_with(",k31=1"));
    CHECK(bound_tracestate(std::string(600, ','), storage).empty());
}

TEST_CASE("a tracestate of half a million members is cut in one pass", "[unit][publish]") {
    // A body may carry a 1 MiB tracestate; cutting it recounted the kept members after
    // every member dropped, minutes of an I/O thread's time (20 s for 160 KB).
    std::string huge;
    for (int i = 0; i < 500'000; ++i) huge += "a,";
    std::string storage;
    auto cut = bound_tracestate(huge, storage);
    CHECK(cut.size() == 32 * 2 - 1);  // the first 32 members
    std::string longs = "first=1";
    for (int i = 0; i < 5'000; ++i) longs += ",l=" + std::string(130, 'x');
    cut = bound_tracestate(longs, storage);
    std::string three;  // long members go from the end until the rest fits in 512
    for (int i = 0; i < 3; ++i) three += ",l=" + std::string(130, 'x');
    CHECK(cut == "first=1" + three);
}
