// The JSON bodies of the group PUT and the dead-letter requeue and delete endpoints
// (streams/request_body.hpp). The input is the request body, read both ways. A body
// is accepted or refused with malformed_json or invalid_body and a detail that goes
// into a problem+json answer: UTF-8 and bounded whatever the body holds. What is
// accepted prints back to a body that reads the same, and the same body reads the
// same every time, whatever the per-thread parser read before it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "deliver/position.hpp"
#include "fuzz_check.hpp"
#include "streams/query.hpp"
#include "streams/request_body.hpp"

using namespace sluice::streams;
using sluice::deliver::parse_entry_id;
using sluice::deliver::start_position;
using sluice::fuzz::is_json;
using sluice::fuzz::is_utf8;
using sluice::fuzz::require;

namespace {

// Longest detail a refusal may carry: fixed text plus one echo() of what came.
constexpr std::size_t max_detail = 512;

bool same(const std::optional<body_error>& a, const std::optional<body_error>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->code == b->code && a->detail == b->detail);
}

bool same(const start_position& a, const start_position& b) {
    return a.where == b.where && a.first == b.first;
}

bool same(const entry_selection& a, const entry_selection& b) {
    return a.all == b.all && a.entries == b.entries;
}

// A refusal as the endpoint answers it. Blank bodies never reach the JSON parser;
// malformed_json is exactly "not one JSON document".
void check_refusal(const body_error& e, std::string_view body) {
    require(e.code == "malformed_json" || e.code == "invalid_body",
            "a refusal is malformed_json or invalid_body");
    require(!e.detail.empty(), "a refusal says what is expected");
    require(is_utf8(e.detail), "a refusal's detail is UTF-8, fit for problem+json");
    require(e.detail.size() <= max_detail, "a refusal's detail is bounded");
    if (!is_blank(body))
        require((e.code == "malformed_json") == !is_json(body),
                "malformed_json exactly when the body is not JSON");
}

// The `from` a position was read from, in the form it prints.
std::string from_text(const start_position& p) {
    switch (p.where) {
        case start_position::kind::newest:
            return "new";
        case start_position::kind::oldest:
            return "start";
        case start_position::kind::at:
            break;
    }
    return p.first.str();
}

struct group_read {
    std::optional<body_error> bad;
    start_position pos;
};

struct selection_read {
    std::optional<body_error> bad;
    entry_selection sel;
};

group_read read_group(std::string_view body) {
    group_read r;
    r.bad = parse_group_body(body, r.pos);
    return r;
}

selection_read read_selection(std::string_view body) {
    selection_read r;
    r.bad = parse_entry_selection(body, r.sel);
    return r;
}

bool same(const group_read& a, const group_read& b) {
    return same(a.bad, b.bad) && (a.bad || same(a.pos, b.pos));
}

bool same(const selection_read& a, const selection_read& b) {
    return same(a.bad, b.bad) && (a.bad || same(a.sel, b.sel));
}

void check_group(std::string_view body, const group_read& r) {
    if (r.bad) return check_refusal(*r.bad, body);
    const start_position& pos = r.pos;
    if (is_blank(body))
        require(pos.where == start_position::kind::newest, "no body starts a group at new");
    else
        require(is_json(body), "an accepted group body is JSON");
    auto after = pos.after();
    if (pos.where == start_position::kind::newest)
        require(after == "$", "a group at new is created at $");
    else
        require(parse_entry_id(after).has_value(), "a group is created after an entry id");

    auto again = read_group(R"({"from":")" + from_text(pos) + "\"}");
    require(!again.bad, "an accepted position prints to a body that is accepted");
    require(same(pos, again.pos), "an accepted position prints to a body that reads the same");
}

void check_selection(std::string_view body, const selection_read& r) {
    if (r.bad) return check_refusal(*r.bad, body);
    const entry_selection& sel = r.sel;
    require(!is_blank(body), "acting on every dead letter is asked for explicitly");
    require(is_json(body), "an accepted selection is JSON");
    require(sel.all != !sel.entries.empty(), "a selection is all or some entries, never both");
    require(sel.entries.size() <= max_page, "a selection holds at most max_page entries");
    std::string printed = sel.all ? R"({"all":true})" : R"({"entries":[)";
    for (std::size_t i = 0; i < sel.entries.size(); ++i) {
        auto id = parse_entry_id(sel.entries[i]);
        require(id && id->str() == sel.entries[i], "a selected entry is a normalised entry id");
        printed += (i ? ",\"" : "\"") + sel.entries[i] + '"';
    }
    if (!sel.all) printed += "]}";
    auto again = read_selection(printed);
    require(!again.bad && same(sel, again.sel),
            "an accepted selection prints to a body that reads the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto group = read_group(body);
    auto selection = read_selection(body);
    check_group(body, group);
    check_selection(body, selection);
    // Read again after the other reads (and the reprints) went through the same
    // per-thread parser: the same answers.
    require(same(read_group(body), group), "a group body reads the same every time");
    require(same(read_selection(body), selection), "a selection reads the same every time");
    return 0;
}
