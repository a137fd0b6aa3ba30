#include "streams/request_body.hpp"

#include <simdjson.h>

#include "streams/query.hpp"

namespace sluice::streams {
namespace {

namespace dom = simdjson::dom;

constexpr std::string_view selection_expected =
    R"(send {"entries": ["<dead-letter entry id>", ...]} or {"all": true})";

// Parses `body` as one JSON object with the per-thread parser.
std::optional<body_error> parse_object(std::string_view body, dom::object& out) {
    thread_local dom::parser parser;
    dom::element root;
    if (auto error = parser.parse(body.data(), body.size(), true).get(root))
        return body_error{"malformed_json", std::string("the body is not valid JSON (") +
                                                simdjson::error_message(error) + ")"};
    if (root.get(out)) return body_error{"invalid_body", "the body must be a JSON object"};
    return std::nullopt;
}

}  // namespace

bool is_blank(std::string_view body) {
    return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::optional<body_error> parse_group_body(std::string_view body, deliver::start_position& out) {
    out = deliver::start_position{};
    if (is_blank(body)) return std::nullopt;
    dom::object object;
    if (auto bad = parse_object(body, object)) return bad;
    for (auto [key, value] : object) {
        if (key != "from")
            return body_error{"invalid_body", "unknown member " + echo(key) +
                                                  R"(; the body is {"from": ...} or nothing)"};
        std::string_view from;
        std::optional<deliver::start_position> pos;
        if (!value.get(from)) pos = deliver::parse_start_position(from);
        if (!pos)
            return body_error{"invalid_body",
                              "from must be `new`, `start`, an entry id (<ms>-<seq>) or an "
                              "RFC 3339 time (2026-11-27T10:00:00Z); got " +
                                  echo(simdjson::minify(value))};
        out = *pos;
    }
    return std::nullopt;
}

std::optional<body_error> parse_entry_selection(std::string_view body, entry_selection& out) {
    out = entry_selection{};
    if (is_blank(body))
        return body_error{"invalid_body",
                          "the body is required: " + std::string(selection_expected)};
    dom::object object;
    if (auto bad = parse_object(body, object)) return bad;
    bool has_all = false, has_entries = false;
    for (auto [key, value] : object) {
        if (key == "all") {
            bool all = false;
            if (value.get(all) || !all)
                return body_error{"invalid_body",
                                  "all must be true; " + std::string(selection_expected)};
            has_all = out.all = true;
        } else if (key == "entries") {
            has_entries = true;
            dom::array ids;
            if (value.get(ids) || ids.size() == 0 || ids.size() > max_page)
                return body_error{"invalid_body", "entries must be an array of 1 to " +
                                                      std::to_string(max_page) +
                                                      " dead-letter entry ids"};
            std::size_t index = 0;
            for (auto element : ids) {
                std::string_view text;
                std::optional<deliver::entry_id> id;
                if (!element.get(text)) id = deliver::parse_entry_id(text);
                if (!id)
                    return body_error{"invalid_body",
                                      "entries[" + std::to_string(index) +
                                          "] must be an entry id (<ms>-<seq>); got " +
                                          echo(simdjson::minify(element))};
                out.entries.push_back(id->str());
                ++index;
            }
        } else {
            return body_error{"invalid_body", "unknown member " + echo(key) + "; " +
                                                  std::string(selection_expected)};
        }
    }
    if (has_all == has_entries)
        return body_error{"invalid_body",
                          (has_all ? "give entries or all, not both; " : "nothing selected; ") +
                              std::string(selection_expected)};
    return std::nullopt;
}

}  // namespace sluice::streams
