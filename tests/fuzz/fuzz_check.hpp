#pragma once

// What the fuzz targets share: a check that stops the run with a message when a
// property of the code under test does not hold. libFuzzer reports the abort as a
// crash and saves the input that caused it.

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sluice::fuzz {

// Aborts with `what` when `ok` is false. Used for properties beyond "does not crash":
// an answer that is not JSON, two ways of reading the same bytes that disagree.
inline void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz property broken: %s\n", what);
    std::abort();
}

// True when `text` is one JSON document (what every answer the broker sends must be).
inline bool is_json(std::string_view text) {
    static simdjson::dom::parser parser;
    return !parser.parse(text.data(), text.size()).error();
}

inline bool is_utf8(std::string_view text) {
    return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace sluice::fuzz
