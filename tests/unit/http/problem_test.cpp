#include "http/problem.hpp"

#include <catch2/catch.hpp>

using sluice::http::problem;

TEST_CASE("a problem serialises to RFC 9457 JSON with a stable code", "[unit][http]") {
    problem p{404, "not_found", "No such resource", "no route for /x", {}};
    CHECK(to_json(p) ==
          R"({"type":"urn:sluice:problem:not_found","title":"No such resource","status":404,)"
          R"("detail":"no route for /x","code":"not_found"})");
}

TEST_CASE("problem detail is escaped and extra members are appended", "[unit][http]") {
    problem p{400, "bad_request", "Malformed", "quote \" and\nnewline", R"("errors":[1,2])"};
    CHECK(to_json(p) ==
          R"({"type":"urn:sluice:problem:bad_request","title":"Malformed","status":400,)"
          R"("detail":"quote \" and\nnewline","code":"bad_request","errors":[1,2]})");
}

TEST_CASE("a problem without detail omits the member", "[unit][http]") {
    problem p{503, "not_ready", "Not ready", {}, {}};
    CHECK(to_json(p).find("detail") == std::string::npos);
}
