#include "schema/schema.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

// The engine's bounds on hostile instances: every one of them ends in a violation
// with a stable code, within a number of steps the budget can count, never a stall.
// Steps are deterministic, so these bounds hold on any machine.

using namespace sluice::schema;

namespace {

struct fixture {
    schema_set set;
    std::shared_ptr<const validator> v;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;

    explicit fixture(const std::string& schema) {
        set.add("https://example.test/root.json", schema, "root.json");
        v = set.compile("https://example.test/root.json");
    }
    // Evaluates `json` with `budget`; returns what it found and, in `used`, the steps.
    evaluation_result run(const std::string& json, evaluation_budget& budget,
                          std::uint64_t* used = nullptr, std::size_t cap = 20) {
        doc = parser.parse(json).value();
        auto before = budget.steps_left;
        auto r = v->evaluate(doc, budget, evaluation_limits{}, cap);
        if (used) *used = before - budget.steps_left;
        return r;
    }
};

// A search that gives up under the default match limit (100,000) runs under limits
// 128, 1,024, 8,192, 65,536 and 100,000 and is charged a step per four units.
constexpr std::uint64_t one_search_that_gives_up = (128 + 1024 + 8192 + 65536 + 100000) / 4;

}  // namespace

TEST_CASE("a pattern that backtracks without end is a regex_limit violation at the value",
          "[unit][schema]") {
    fixture f(R"({"properties":{"name":{"type":"string","pattern":"^(a+)+$"}}})");
    evaluation_budget budget;
    std::uint64_t used = 0;
    auto r = f.run(R"({"name":")" + std::string(35'000, 'a') + R"(!"})", budget, &used);
    CHECK_FALSE(r.valid);
    CHECK_FALSE(r.budget_exhausted);
    REQUIRE(r.violations.size() == 1);
    CHECK(r.violations[0].code == "regex_limit");
    CHECK(r.violations[0].instance_location == "/name");
    CHECK(r.violations[0].keyword_location == "/properties/name/pattern");
    CHECK_THAT(r.violations[0].message, Catch::Matchers::Contains("/^(a+)+$/ gave up"));
    // Searched once: the walk that collects violations reuses the first pass's verdict.
    CHECK(used < one_search_that_gives_up + 100);

    // The same pattern still decides ordinary strings.
    auto ok = f.run(R"({"name":"aaaa"})", budget);
    CHECK(ok.valid);
    auto bad = f.run(R"({"name":"ab"})", budget);
    REQUIRE(bad.violations.size() == 1);
    CHECK(bad.violations[0].code.empty());
}

TEST_CASE("a pattern that gives up refuses the value wherever it sits, even under not",
          "[unit][schema]") {
    std::string evil = R"(")" + std::string(30, 'a') + R"(!")";
    for (const char* schema : {R"({"not":{"pattern":"^(a+)+$"}})",
                               R"({"oneOf":[{"pattern":"^(a+)+$"},{"type":"integer"}]})",
                               R"({"if":{"pattern":"^(a+)+$"},"else":true})"}) {
        fixture f(schema);
        evaluation_budget budget;
        auto r = f.run(evil, budget);
        CHECK_FALSE(r.valid);
        CHECK_FALSE(f.v->validate(f.doc));
        CHECK(std::any_of(r.violations.begin(), r.violations.end(),
                          [](const violation& v) { return v.code == "regex_limit"; }));
    }
}

TEST_CASE("patternProperties with attacker-chosen names: each gives up, the walk stops at the cap",
          "[unit][schema]") {
    fixture f(R"({"patternProperties":{"^(a+)+$":{"type":"integer"}}})");
    std::string json = "{";
    for (int i = 0; i < 60; ++i)
        json +=
            (i ? "," : "") + std::string("\"") + std::string(30 + std::size_t(i), 'a') + "!\":1";
    json += "}";
    evaluation_budget budget;
    std::uint64_t used = 0;
    auto r = f.run(json, budget, &used);
    CHECK_FALSE(r.valid);
    REQUIRE(r.violations.size() == 20);
    CHECK(r.truncated);
    for (const auto& v : r.violations) CHECK(v.code == "regex_limit");
    CHECK(r.violations[0].instance_location == "/" + std::string(30, 'a') + "!");
    CHECK(r.violations[0].keyword_location == "/patternProperties/^(a+)+$");
    CHECK(r.violations[0].absolute_keyword_location ==
          "https://example.test/root.json#/patternProperties/^(a+)+$");
    // 21 names searched (the 21st only to know there were more), the first once.
    CHECK(used <= 21 * one_search_that_gives_up + 200);
}

TEST_CASE("uniqueItems over 60,000 numbers costs steps in proportion, not squared",
          "[unit][schema]") {
    fixture f(R"({"type":"array","uniqueItems":true})");
    std::string json = "[";
    for (int i = 0; i < 60'000; ++i) json += (i ? "," : "") + std::to_string(i) + ".5";
    evaluation_budget budget{200'000};
    auto r = f.run(json + "]", budget);
    CHECK(r.valid);
    CHECK_FALSE(r.budget_exhausted);

    evaluation_budget again{400'000};
    auto dup = f.run(json + ",0.5]", again);
    CHECK_FALSE(dup.valid);
    CHECK_FALSE(dup.budget_exhausted);
    REQUIRE(dup.violations.size() == 1);
    CHECK(dup.violations[0].message == "expected unique items, but items 0 and 60000 are equal");
}

TEST_CASE("uniqueItems by hash still compares by JSON equality", "[unit][schema]") {
    fixture f(R"({"uniqueItems":true})");
    auto valid = [&](const std::string& tail) {
        // Nine leading distinct items, so the hashed comparison is the one at work.
        return f.v->validate(
            f.parser.parse("[\"p0\",\"p1\",\"p2\",\"p3\",\"p4\",\"p5\",\"p6\",\"p7\"," + tail + "]")
                .value());
    };
    CHECK_FALSE(valid("1,1.0"));
    CHECK_FALSE(valid("1e2,100"));
    CHECK_FALSE(valid("-0.0,0"));
    CHECK_FALSE(valid(R"({"a":1,"b":[1,2]},{"b":[1.0,2],"a":1})"));
    CHECK_FALSE(valid(R"([[1,{"x":null}]],[[1.0,{"x":null}]])"));
    CHECK_FALSE(valid("18446744073709551615,18446744073709551615"));
    CHECK(valid("1,true"));
    CHECK(valid("0,false,null"));
    CHECK(valid(R"({"a":1,"b":2},{"a":2,"b":1})"));
    CHECK(valid("[1,2],[2,1]"));
    CHECK(valid("9007199254740993,9007199254740992.0"));
    CHECK(valid("9223372036854775807,9223372036854775808"));
    CHECK(valid(R"("1",1)"));
}

TEST_CASE("the evaluation budget ends a request's checks with evaluation_budget",
          "[unit][schema]") {
    fixture f(
        R"({"type":"array","items":{"type":"object","properties":{"n":{"type":"integer"}}}})");
    std::string json = "[";
    for (int i = 0; i < 1000; ++i) json += (i ? "," : "") + std::string(R"({"n":1})");
    json += "]";
    evaluation_budget budget{500};
    auto r = f.run(json, budget);
    CHECK_FALSE(r.valid);
    CHECK(r.budget_exhausted);
    REQUIRE(r.violations.size() == 1);
    CHECK(r.violations[0].code == "evaluation_budget");
    CHECK(budget.steps_left == 0);
    // The next event of the same request gets nothing more.
    auto next = f.run(R"([{"n":1}])", budget);
    CHECK(next.budget_exhausted);
    CHECK(next.violations.at(0).code == "evaluation_budget");

    // With steps enough, the same instance is valid: the default leaves plenty of room.
    evaluation_budget plenty{evaluation_limits{}.max_steps};
    std::uint64_t used = 0;
    CHECK(f.run(json, plenty, &used).valid);
    CHECK(used < 5'000);
}

TEST_CASE("violations are collected in one walk that stops at the cap", "[unit][schema]") {
    fixture f(R"({"type":"array","items":{"type":"string"}})");
    std::string json = "[";
    for (int i = 0; i < 100'000; ++i) json += (i ? "," : "") + std::to_string(i);
    json += "]";
    evaluation_budget budget;
    std::uint64_t used = 0;
    auto r = f.run(json, budget, &used);
    CHECK_FALSE(r.valid);
    REQUIRE(r.violations.size() == 20);
    CHECK(r.truncated);
    CHECK(r.violations[19].instance_location == "/19");
    // The first pass pays for the array's 100,000 items at once (a container pays
    // for its members up front) and stops at item 0; the second stops at item 20.
    CHECK(used < 100'000 + 100);

    auto exact = f.run("[1,2,3]", budget, nullptr, 3);
    CHECK(exact.violations.size() == 3);
    CHECK_FALSE(exact.truncated);
}
