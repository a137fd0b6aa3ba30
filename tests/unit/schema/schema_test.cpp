#include "schema/schema.hpp"

#include <catch2/catch.hpp>

using namespace sluice::schema;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Compiles `schema` (plus `others`, each {uri, text}) and keeps the parser for instances.
struct fixture {
    schema_set set;
    std::shared_ptr<const validator> v;
    simdjson::dom::parser parser;

    explicit fixture(const std::string& schema,
                     std::vector<std::pair<std::string, std::string>> others = {},
                     compile_options options = {}) {
        for (const auto& [uri, text] : others) set.add(uri, text, uri);
        set.add("https://example.test/root.json", schema, "root.json");
        v = set.compile("https://example.test/root.json", options);
    }
    bool valid(const std::string& json) { return v->validate(parser.parse(json).value()); }
    std::vector<violation> why(const std::string& json) {
        return v->explain(parser.parse(json).value());
    }
};

std::string compile_error(const std::string& schema,
                          std::vector<std::pair<std::string, std::string>> others = {}) {
    try {
        fixture f(schema, std::move(others));
    } catch (const schema_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("violations name the instance location, the keyword path and a readable message",
          "[unit][schema]") {
    fixture f(
        R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0},
                  "tags":{"type":"array","items":{"type":"string"}}},"required":["name"],
                  "additionalProperties":false})");
    CHECK(f.valid(R"({"name":"a","age":3,"tags":["x"]})"));
    CHECK_FALSE(f.valid(R"({"age":-3,"tags":["x",1],"extra":true})"));
    auto v = f.why(R"({"age":-3,"tags":["x",1],"extra":true})");
    REQUIRE(v.size() == 4);
    auto find = [&](const std::string& where) -> const violation* {
        for (const auto& x : v)
            if (x.instance_location == where) return &x;
        return nullptr;
    };
    auto* age = find("/age");
    REQUIRE(age);
    CHECK(age->keyword_location == "/properties/age/minimum");
    CHECK(age->absolute_keyword_location ==
          "https://example.test/root.json#/properties/age/minimum");
    CHECK(age->message == "expected a number >= 0, got -3");
    auto* tag = find("/tags/1");
    REQUIRE(tag);
    CHECK(tag->keyword_location == "/properties/tags/items/type");
    CHECK(tag->message == "expected a string, got an integer");
    auto* extra = find("/extra");
    REQUIRE(extra);
    CHECK(extra->keyword_location == "/additionalProperties");
    CHECK(extra->message == "property 'extra' is not allowed");
    auto* missing = find("");
    REQUIRE(missing);
    CHECK(missing->message == "missing required property 'name'");
}

TEST_CASE("explain stops at the cap and says nothing for a valid instance", "[unit][schema]") {
    fixture f(R"({"items":{"type":"string"}})");
    CHECK(f.why(R"(["a","b"])").empty());
    std::string ten = "[1,2,3,4,5,6,7,8,9,10]";
    auto v = f.v->explain(f.parser.parse(ten).value(), 3);
    CHECK(v.size() == 3);
}

TEST_CASE("formats are asserted by default and only annotations when asked", "[unit][schema]") {
    fixture strict(R"({"type":"string","format":"uuid"})");
    CHECK(strict.valid(R"("0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41")"));
    CHECK_FALSE(strict.valid(R"("not-a-uuid")"));
    CHECK(strict.why(R"("not-a-uuid")").at(0).message ==
          R"(expected a valid uuid, got "not-a-uuid")");
    fixture lax(R"({"type":"string","format":"uuid"})", {},
                compile_options{.assert_formats = false});
    CHECK(lax.valid(R"("not-a-uuid")"));
}

TEST_CASE("$ref across documents resolves by $id, never over the network", "[unit][schema]") {
    fixture f(
        R"({"$id":"https://example.test/order.json","properties":{"customer":{"$ref":"customer.json"}}})",
        {{"file:///schemas/customer.json",
          R"({"$id":"https://example.test/customer.json","required":["id"]})"}});
    CHECK(f.valid(R"({"customer":{"id":1}})"));
    CHECK_FALSE(f.valid(R"({"customer":{}})"));
}

TEST_CASE("schemas that cannot work are refused with the file and the pointer", "[unit][schema]") {
    CHECK_THAT(compile_error(R"({"properties":{"a":{"$ref":"missing.json#/x"}}})"),
               StartsWith("root.json#/properties/a/$ref: cannot resolve 'missing.json#/x'"));
    CHECK_THAT(compile_error(R"({"$schema":"https://example.test/unknown-meta"})"),
               StartsWith("root.json#: unknown $schema 'https://example.test/unknown-meta'"));
    CHECK_THAT(
        compile_error(
            R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})"),
        Contains("evaluation would never end"));
    CHECK_THAT(compile_error(R"({"pattern":"(unclosed"})"),
               StartsWith("root.json#/pattern: invalid pattern"));
    CHECK_THAT(compile_error(R"({"minLength":-1})"),
               StartsWith("root.json#/minLength: expected a non-negative integer"));
    CHECK_THAT(compile_error(R"({"$ref":5})"), Contains("wrong JSON type"));
}

TEST_CASE("a recursive schema with a recursive instance hits the depth limit, not the stack",
          "[unit][schema]") {
    fixture f(R"({"properties":{"next":{"$ref":"#"}}})", {}, compile_options{.max_depth = 50});
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += R"({"next":)";
    deep += "{}";
    for (int i = 0; i < 100; ++i) deep += "}";
    CHECK_FALSE(f.valid(deep));
    CHECK_THAT(f.why(deep).at(0).message, Contains("deeper than 50 levels"));
}

TEST_CASE("draft-07: $ref ignores siblings, array items, additionalItems, dependencies",
          "[unit][schema]") {
    fixture ref(R"({"$schema":"http://json-schema.org/draft-07/schema#",
                    "definitions":{"s":{"type":"string"}},"$ref":"#/definitions/s","maxLength":1})");
    CHECK(ref.valid(R"("long string")"));  // maxLength beside $ref does not apply
    CHECK_FALSE(ref.valid("1"));

    fixture tuple(R"({"$schema":"http://json-schema.org/draft-07/schema#",
                      "items":[{"type":"integer"},{"type":"string"}],"additionalItems":false})");
    CHECK(tuple.valid(R"([1,"a"])"));
    CHECK_FALSE(tuple.valid(R"(["a",1])"));
    CHECK_FALSE(tuple.valid(R"([1,"a",true])"));

    fixture deps(R"({"$schema":"http://json-schema.org/draft-07/schema#",
                     "dependencies":{"a":["b"],"c":{"required":["d"]}}})");
    CHECK(deps.valid(R"({"a":1,"b":2})"));
    CHECK_FALSE(deps.valid(R"({"a":1})"));
    CHECK_FALSE(deps.valid(R"({"c":1})"));
    CHECK(deps.valid(R"({"c":1,"d":2})"));

    fixture anchor(R"({"$schema":"http://json-schema.org/draft-07/schema#",
                       "definitions":{"x":{"$id":"#pos","minimum":0}},"$ref":"#pos"})");
    CHECK(anchor.valid("1"));
    CHECK_FALSE(anchor.valid("-1"));
}

TEST_CASE("a schema can be checked against the built-in 2020-12 meta-schema", "[unit][schema]") {
    fixture meta(R"({"$ref":"https://json-schema.org/draft/2020-12/schema"})");
    CHECK(meta.valid(R"({"type":"object","properties":{"a":{"minimum":1}}})"));
    CHECK_FALSE(meta.valid(R"({"type":"objekt"})"));
    CHECK_FALSE(meta.valid(R"({"properties":{"a":{"minimum":"one"}}})"));
}

TEST_CASE("unevaluatedProperties sees through allOf, $ref and if/then", "[unit][schema]") {
    fixture f(R"({"$defs":{"base":{"properties":{"id":{"type":"string"}}}},
                  "allOf":[{"$ref":"#/$defs/base"}],
                  "if":{"properties":{"kind":{"const":"user"}}},"then":{"properties":{"email":true}},
                  "properties":{"kind":true},
                  "unevaluatedProperties":false})");
    CHECK(f.valid(R"({"id":"1","kind":"user","email":"a@b.c"})"));
    CHECK_FALSE(f.valid(R"({"id":"1","kind":"order","email":"a@b.c"})"));
    CHECK_FALSE(f.valid(R"({"id":"1","other":1})"));
}

TEST_CASE("hostile corners: control characters in names, huge integers, tight multipleOf",
          "[unit][schema]") {
    fixture names(R"({"propertyNames":{"maxLength":5}})");
    CHECK(names.valid(R"({"a\nb":1})"));
    CHECK_FALSE(names.valid(R"({"a\u0001bcdef":1})"));

    fixture int64(R"({"maximum":9223372036854775807})");
    CHECK(int64.valid("9223372036854775807"));
    CHECK_FALSE(int64.valid("9223372036854775808"));
    fixture big_enum(R"({"enum":[9223372036854775807]})");
    CHECK_FALSE(big_enum.valid("9223372036854775808"));

    fixture cents(R"({"multipleOf":0.01})");
    CHECK(cents.valid("12345.67"));
    CHECK_FALSE(cents.valid("10000000.001"));
    fixture even(R"({"multipleOf":2})");
    CHECK_FALSE(even.valid("18446744073709551615"));
    CHECK(even.valid("18446744073709551614"));
}

TEST_CASE("duplicate keywords and properties are refused, not guessed at", "[unit][schema]") {
    CHECK_THAT(compile_error(R"({"type":"string","type":"number"})"),
               Contains("#/type: the keyword appears twice"));
    CHECK_THAT(compile_error(R"({"properties":{"a":true,"a":false}})"),
               Contains("property 'a' appears twice"));
}

TEST_CASE("draft-07 tuple items report their own keyword names", "[unit][schema]") {
    fixture f(
        R"({"$schema":"http://json-schema.org/draft-07/schema#","items":[{"type":"string"}],"additionalItems":false})");
    auto v = f.why("[1,2]");
    REQUIRE(v.size() == 2);
    CHECK(v[0].keyword_location == "/items/0/type");
    CHECK(v[1].keyword_location == "/additionalItems");
}

TEST_CASE("a capped explanation never relabels an earlier violation", "[unit][schema]") {
    fixture f(R"({"properties":{"a":{"type":"string"}},"additionalProperties":false})");
    auto v = f.v->explain(f.parser.parse(std::string(R"({"a":1,"b":2})")).value(), 1);
    REQUIRE(v.size() == 1);
    CHECK(v[0].instance_location == "/a");
    CHECK(v[0].message == "expected a string, got an integer");
}

TEST_CASE("an endless $ref cycle is refused naming the file and pointer", "[unit][schema]") {
    CHECK_THAT(
        compile_error(R"({"$id":"https://example.test/loop.json","$defs":{"a":{"$ref":"#/$defs/b"},
                                "b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})"),
        Contains("root.json#/$defs/"));
}
