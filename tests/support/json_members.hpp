#pragma once

// Reading a JSON answer in a test: parse it, take its members, and fail the test with
// the text or the member's name when something is not there or not of that type.

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace sluice::test {

inline simdjson::dom::element parse_json(simdjson::dom::parser& p, const std::string& json) {
    INFO("JSON: " << json);
    simdjson::dom::element e;
    REQUIRE(p.parse(json).get(e) == simdjson::SUCCESS);
    return e;
}

inline std::string string_member(simdjson::dom::element e, const char* name) {
    INFO("member: " << name);
    std::string_view s;
    REQUIRE(e[name].get(s) == simdjson::SUCCESS);
    return std::string(s);
}

inline std::uint64_t uint_member(simdjson::dom::element e, const char* name) {
    INFO("member: " << name);
    std::uint64_t n = 0;
    REQUIRE(e[name].get(n) == simdjson::SUCCESS);
    return n;
}

inline bool bool_member(simdjson::dom::element e, const char* name) {
    INFO("member: " << name);
    bool b = false;
    REQUIRE(e[name].get(b) == simdjson::SUCCESS);
    return b;
}

}  // namespace sluice::test
