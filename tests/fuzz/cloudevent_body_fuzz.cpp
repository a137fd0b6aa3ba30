// The CloudEvents body readers (publish/cloudevent.hpp) over a request body, as the
// publisher runs them: parse once, then the batch reader for an array and the
// structured and envelope readers for anything else. An event is read or refused
// with a 4xx problem whose JSON is valid; a body that is not JSON gets a position
// inside it.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/problem.hpp"
#include "publish/cloudevent.hpp"

using namespace sluice::publish;
using sluice::fuzz::is_json;
using sluice::fuzz::is_utf8;
using sluice::fuzz::require;

namespace {

void check(const std::optional<incoming_event>& e, const event_error& error) {
    if (!e) {
        const auto& p = error.problem;
        require(p.status >= 400 && p.status < 500, "a refused event is a 4xx");
        require(!p.code.empty() && !p.detail.empty(), "a refusal has a code and a detail");
        require(is_json(sluice::http::to_json(p)), "the problem is JSON");
        return;
    }
    require(!e->type.empty() && is_utf8(e->type), "a read event has a type");
    require(e->version <= 1'000'000, "a version is bounded");
    require(e->traceparent.empty() || is_valid_traceparent(e->traceparent),
            "only a valid traceparent is kept");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    static simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(body.data(), body.size(), true).get(root)) {
        auto at = locate_json_error(body);
        require(at.line >= 1 && at.column >= 1, "an error position is 1-based");
        require(at.line <= size + 1 && at.column <= size + 1,
                "an error position is inside the body");
        return 0;
    }
    simdjson::dom::array batch;
    if (!root.get(batch)) {
        for (auto element : batch) {
            event_error error;
            check(read_structured(element, error), error);
        }
        return 0;
    }
    event_error error;
    check(read_structured(root, error), error);
    event_error envelope_error;
    check(read_envelope(root, envelope_error), envelope_error);
    return 0;
}
