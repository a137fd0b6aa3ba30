// W3C trace context as publishers send it: the `traceparent` header or attribute
// (publish/cloudevent.hpp is_valid_traceparent). Only a well-formed version-00
// value may be stored and passed on; this target checks what is accepted against
// the layout the W3C spec gives, and that the binary-mode reader drops an invalid
// traceparent together with its tracestate.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_check.hpp"
#include "publish/cloudevent.hpp"

using namespace sluice::publish;
using sluice::fuzz::require;

namespace {

bool lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool all_zero(std::string_view s) {
    return s.find_first_not_of('0') == std::string_view::npos;
}

struct headers final : header_source {
    std::string_view traceparent;
    std::optional<std::string_view> get(std::string_view name) const override {
        if (name == "ce-specversion") return "1.0";
        if (name == "ce-type") return "t";
        if (name == "ce-traceparent") return traceparent;
        if (name == "ce-tracestate") return "k=v";
        return std::nullopt;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view t(reinterpret_cast<const char*>(data), size);
    bool valid = is_valid_traceparent(t);
    if (valid) {
        require(t.size() == 55, "version 00 is 55 characters");
        require(t[2] == '-' && t[35] == '-' && t[52] == '-', "fields are separated by '-'");
        for (std::size_t i = 0; i < t.size(); ++i)
            if (i != 2 && i != 35 && i != 52) require(lower_hex(t[i]), "fields are lowercase hex");
        require(t.substr(0, 2) != "ff", "version ff is invalid");
        require(!all_zero(t.substr(3, 32)), "the trace id is not all zeros");
        require(!all_zero(t.substr(36, 16)), "the parent id is not all zeros");
    }

    static simdjson::dom::parser parser;
    simdjson::dom::element body;
    if (parser.parse("{}", 2).get(body)) return 0;
    headers h;
    h.traceparent = t;
    event_error error;
    auto e = read_binary(h, body, error);
    if (!e) return 0;  // not UTF-8: refused as a whole
    if (valid) {
        require(e->traceparent == t && e->tracestate == "k=v", "a valid traceparent is kept");
    } else if (!t.empty()) {
        require(e->traceparent.empty() && e->tracestate.empty(),
                "an invalid traceparent is dropped with its tracestate");
    }
    return 0;
}
