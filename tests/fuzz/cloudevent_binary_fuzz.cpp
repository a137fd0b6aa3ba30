// Binary-mode CloudEvents (publish/cloudevent.hpp read_binary): attributes in
// ce-* headers, data in the body. The input is `name: value` lines, an empty line,
// then the body; header names are matched case-insensitively, as HTTP does. Header
// bytes reach answers, Redis and logs, so an event read from them must be UTF-8 and
// a refusal must be a valid problem+json.

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "http/problem.hpp"
#include "publish/cloudevent.hpp"

using namespace sluice::publish;
using sluice::fuzz::is_json;
using sluice::fuzz::is_utf8;
using sluice::fuzz::require;

namespace {

struct header_list final : header_source {
    std::vector<std::pair<std::string, std::string_view>> fields;  // name lowercased
    std::optional<std::string_view> get(std::string_view name) const override {
        for (const auto& [n, v] : fields)
            if (n == name) return v;
        return std::nullopt;
    }
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    header_list headers;
    while (!in.empty()) {
        auto nl = in.find('\n');
        auto line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
        if (line.empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        headers.fields.emplace_back(lower(line.substr(0, colon)), value);
    }
    auto content_type = headers.get("content-type").value_or("");
    (void)mode_for(content_type, headers.get("ce-specversion").has_value());

    // The body as the HTTP layer holds it (a string, never a null pointer).
    std::string body_text(in);
    static simdjson::dom::parser parser;
    simdjson::dom::element body;
    if (parser.parse(body_text).get(body)) return 0;  // a 400 before the readers
    event_error error;
    auto e = read_binary(headers, body, error);
    if (!e) {
        const auto& p = error.problem;
        require(p.status >= 400 && p.status < 500, "a refused event is a 4xx");
        require(!p.code.empty() && !p.detail.empty(), "a refusal has a code and a detail");
        require(is_json(sluice::http::to_json(p)), "the problem is JSON");
        return 0;
    }
    require(!e->type.empty(), "a read event has a type");
    for (std::string_view s :
         {e->type, std::string_view(e->id), std::string_view(e->source), std::string_view(e->time),
          std::string_view(e->subject), std::string_view(e->datacontenttype),
          std::string_view(e->traceparent), std::string_view(e->tracestate)})
        require(is_utf8(s), "every attribute read from a header is UTF-8");
    require(e->traceparent.empty() || is_valid_traceparent(e->traceparent),
            "only a valid traceparent is kept");
    return 0;
}
