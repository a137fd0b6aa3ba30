#include "schema/uri.hpp"

#include <catch2/catch.hpp>

using namespace sluice::schema;

TEST_CASE("URI references resolve as RFC 3986 says", "[unit][schema]") {
    CHECK(resolve_uri("http://a/b/c/d;p?q", "g") == "http://a/b/c/g");
    CHECK(resolve_uri("http://a/b/c/d;p?q", "../g") == "http://a/b/g");
    CHECK(resolve_uri("http://a/b/c/d;p?q", "#s") == "http://a/b/c/d;p?q#s");
    CHECK(resolve_uri("http://a/b/c/d;p?q", "//g") == "http://g");
    CHECK(resolve_uri("http://a/b/c/d;p?q", "../../../g") == "http://a/g");
    CHECK(resolve_uri("urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed", "#/$defs/a") ==
          "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed#/$defs/a");
    CHECK(resolve_uri("https://x/schemas/a.json", "https://y/b.json") == "https://y/b.json");
}

TEST_CASE("fragments are percent-decoded, pointer tokens are escaped", "[unit][schema]") {
    CHECK(fragment_of("x.json#/definitions/foo%22bar") == "/definitions/foo\"bar");
    CHECK(fragment_of("x.json").empty());
    std::string p;
    append_pointer_token(p, "a/b~c");
    CHECK(p == "/a~1b~0c");
    std::string t;
    CHECK(unescape_pointer_token("a~1b~0c", t));
    CHECK(t == "a/b~c");
    CHECK_FALSE(unescape_pointer_token("a~2", t));
}
