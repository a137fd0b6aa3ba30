// Checks the engine's promise that validating a valid instance allocates nothing.
// A program of its own: it links the counting operator new (support/allocation_counter).
#include "schema/schema.hpp"

#include <catch2/catch.hpp>

#include "support/allocation_counter.hpp"

TEST_CASE("validating a valid instance does not allocate", "[unit][schema]") {
    sluice::schema::schema_set set;
    set.add("https://example.test/event.json", R"({
        "type": "object",
        "required": ["id", "type", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": {"enum": ["user.created"]},
            "time": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "age": {"type": "integer", "minimum": 0, "maximum": 150},
                    "locale": {"type": "string", "pattern": "^[a-z]{2}(-[A-Z]{2})?$"},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                    "plan": {"$ref": "#/$defs/plan"}
                },
                "additionalProperties": false
            }
        },
        "$defs": {"plan": {"anyOf": [{"const": "free"}, {"const": "pro"}]}}
    })",
            "event.json");
    auto v = set.compile("https://example.test/event.json");
    simdjson::dom::parser parser;
    std::string json = R"({"id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","type":"user.created",
        "time":"2026-11-27T00:29:00Z","data":{"email":"a@example.com","age":34,"locale":"en-GB",
        "tags":["beta"],"plan":"pro"}})";
    auto doc = parser.parse(json).value();
    REQUIRE(v->validate(doc));  // warms up per-thread regex match data
    sluice::test::start_counting_allocations();
    bool all_valid = true;
    for (int i = 0; i < 100; ++i) all_valid = v->validate(doc) && all_valid;
    auto allocations = sluice::test::stop_counting_allocations();
    CHECK(all_valid);
    CHECK(allocations == 0);
}
