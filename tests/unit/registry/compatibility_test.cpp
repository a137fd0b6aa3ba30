#include "registry/compatibility.hpp"

#include <catch2/catch.hpp>
#include <deque>

using namespace sluice::registry;
using Catch::Matchers::Contains;

namespace {

// Parses schemas that stay alive for the test.
struct schemas {
    std::deque<simdjson::dom::parser> parsers;
    simdjson::dom::element operator()(const std::string& json) {
        parsers.emplace_back();
        return parsers.back().parse(json).value();
    }
};

std::string evolve(compatibility mode, std::vector<std::string> texts) {
    schemas s;
    std::vector<labelled_schema> versions;
    for (std::size_t i = 0; i < texts.size(); ++i)
        versions.push_back({"v" + std::to_string(i + 1), s(texts[i])});
    return check_evolution(mode, versions);
}

}  // namespace

TEST_CASE("backward: a new required property breaks it, with the reason", "[unit][registry]") {
    auto why = evolve(
        compatibility::backward,
        {R"({"type":"object","properties":{"email":{"type":"string"}}})",
         R"({"type":"object","properties":{"email":{"type":"string"}},"required":["email"]})"});
    CHECK(why ==
          "v2 breaks backward compatibility with v1: `email` is required by v2 but not by v1: "
          "events valid "
          "under v1 would be rejected");
}

TEST_CASE("backward: new optional properties and wider enums are fine, forward says otherwise",
          "[unit][registry]") {
    std::string v1 =
        R"({"type":"object","properties":{"plan":{"enum":["free","pro"]}},"additionalProperties":false})";
    std::string v2 =
        R"({"type":"object","properties":{"plan":{"enum":["free","pro","team"]},"locale":{"type":"string"}},
            "additionalProperties":false})";
    CHECK(evolve(compatibility::backward, {v1, v2}).empty());
    CHECK_THAT(evolve(compatibility::forward, {v1, v2}),
               Contains("v2 breaks forward compatibility with v1"));
    CHECK_THAT(evolve(compatibility::full, {v1, v2}), Contains("forward"));
}

TEST_CASE("narrowing types, bounds, lengths and formats breaks backward", "[unit][registry]") {
    CHECK_THAT(evolve(compatibility::backward,
                      {R"({"type":["string","integer"]})", R"({"type":"string"})"}),
               Contains("accepts integers under v1 but not under v2"));
    CHECK_THAT(evolve(compatibility::backward, {R"({"minimum":0})", R"({"minimum":1})"}),
               Contains("higher minimum"));
    CHECK(evolve(compatibility::backward,
                 {R"({"type":"integer","minimum":1})", R"({"type":"integer","minimum":0})"})
              .empty());
    CHECK_THAT(evolve(compatibility::backward,
                      {R"({"type":"string"})", R"({"type":"string","maxLength":10})"}),
               Contains("at most 10 characters"));
    CHECK_THAT(evolve(compatibility::backward,
                      {R"({"type":"string"})", R"({"type":"string","format":"email"})"}),
               Contains("must be a valid email under v2"));
    CHECK_THAT(evolve(compatibility::backward,
                      {R"({"properties":{"a":{}}})", R"({"additionalProperties":false})"}),
               Contains("`a` is forbidden by v2 but allowed by v1"));
}

TEST_CASE("what the checker cannot prove it refuses, naming the construct", "[unit][registry]") {
    CHECK_THAT(evolve(compatibility::backward,
                      {R"({"type":"string"})", R"({"anyOf":[{"type":"string"}]})"}),
               Contains("cannot prove compatibility for `anyOf` in v2"));
    CHECK_THAT(evolve(compatibility::backward, {R"({"type":"string","pattern":"^a"})",
                                                R"({"type":"string","pattern":"^b"})"}),
               Contains("match the pattern /^b/"));
    CHECK(evolve(compatibility::backward,
                 {R"({"type":"string","pattern":"^a"})", R"({"type":"string","pattern":"^a"})"})
              .empty());
    // Constraints the older version adds beyond what the checker reads only narrow it: fine.
    CHECK(evolve(compatibility::backward,
                 {R"({"type":"string","not":{"const":"x"}})", R"({"type":"string"})"})
              .empty());
}

TEST_CASE("local $refs are followed, transitive modes look at every earlier version",
          "[unit][registry]") {
    CHECK(
        evolve(
            compatibility::backward,
            {R"({"$defs":{"id":{"type":"string","minLength":1}},"properties":{"id":{"$ref":"#/$defs/id"}}})",
             R"({"properties":{"id":{"type":"string"}}})"})
            .empty());
    std::string v1 = R"({"properties":{"n":{"type":"integer","maximum":10}}})";
    std::string v2 = R"({"properties":{"n":{"type":"integer","maximum":20}}})";
    std::string v3 = R"({"properties":{"n":{"type":"integer","maximum":15}}})";
    CHECK(evolve(compatibility::forward, {v1, v2, v3})
              .empty());  // v3 within v2's range? forward: v3 ⊆ v2 holds
    CHECK_THAT(evolve(compatibility::forward_transitive, {v1, v2, v3}), Contains("with v1"));
    CHECK(evolve(compatibility::none, {v1, R"({"type":"null"})"}).empty());
}

TEST_CASE("compatibility modes parse from their names", "[unit][registry]") {
    compatibility c{};
    CHECK(parse_compatibility("full_transitive", c));
    CHECK(c == compatibility::full_transitive);
    CHECK(to_string(c) == "full_transitive");
    CHECK_FALSE(parse_compatibility("sideways", c));
}
