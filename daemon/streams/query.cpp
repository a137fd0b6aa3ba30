#include "streams/query.hpp"

#include <charconv>
#include <limits>

#include "config/redis_url.hpp"
#include "deliver/position.hpp"
#include "deliver/protocol.hpp"

namespace sluice::streams {
namespace {

// `text` cut to 64 bytes, bytes outside printable ASCII shown as '?': what a client
// sent, made safe for a JSON answer and a log line (a percent-decoded name may be
// any bytes, not UTF-8).
std::string printable(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < 64; ++i)
        out += text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    return out;
}

// The query's pairs, each name one of `allowed` and given at most once.
std::optional<query_error> read_params(std::string_view query,
                                       std::initializer_list<std::string_view> allowed,
                                       std::vector<query_param>& out) {
    auto params = parse_query(query);
    if (!params) return query_error{"", "the query string holds a malformed %-escape"};
    std::string names;
    for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
    for (std::size_t i = 0; i < params->size(); ++i) {
        const auto& p = (*params)[i];
        bool known = false;
        for (auto a : allowed) known = known || p.name == a;
        if (!known)
            return query_error{printable(p.name), "unknown query parameter " + echo(p.name) +
                                                      "; this endpoint takes " + names};
        for (std::size_t j = 0; j < i; ++j)
            if ((*params)[j].name == p.name)
                return query_error{p.name, p.name + " is given more than once"};
    }
    out = std::move(*params);
    return std::nullopt;
}

std::optional<query_error> read_from(const std::string& value, page_query& out) {
    auto pos = deliver::parse_start_position(value);
    if (!pos || pos->where == deliver::start_position::kind::newest)
        return query_error{"from",
                           "from must be `start`, an entry id (<ms>-<seq>) or an RFC 3339 time "
                           "(2026-11-27T10:00:00Z); got " +
                               echo(value)};
    out.first = pos->where == deliver::start_position::kind::oldest ? "-" : pos->first.str();
    return std::nullopt;
}

std::optional<query_error> read_to(const std::string& value, page_query& out) {
    if (value == "end") {
        out.last = "+";
        return std::nullopt;
    }
    constexpr auto max_seq = std::numeric_limits<std::uint64_t>::max();
    if (auto id = deliver::parse_entry_id(value)) {
        // A bare <ms> ends with the last entry of that millisecond, as in XRANGE.
        if (value.find('-') == std::string::npos) id->seq = max_seq;
        out.last = id->str();
        return std::nullopt;
    }
    if (auto ms = deliver::parse_rfc3339_ms(value)) {
        out.last = deliver::entry_id{*ms, max_seq}.str();
        return std::nullopt;
    }
    return query_error{"to",
                       "to must be `end`, an entry id (<ms>-<seq>) or an RFC 3339 time "
                       "(2026-11-27T10:00:00Z); got " +
                           echo(value)};
}

std::optional<query_error> read_limit(const std::string& value, page_query& out) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size() || n < 1 || n > max_page)
        return query_error{"limit", "limit must be an integer from 1 to " +
                                        std::to_string(max_page) + "; got " + echo(value)};
    out.limit = n;
    return std::nullopt;
}

std::optional<query_error> parse_page(std::string_view query, bool with_to, page_query& out) {
    std::vector<query_param> params;
    auto bad = with_to ? read_params(query, {"from", "to", "limit"}, params)
                       : read_params(query, {"from", "limit"}, params);
    if (bad) return bad;
    for (const auto& p : params) {
        if (p.name == "from")
            bad = read_from(p.value, out);
        else if (p.name == "to")
            bad = read_to(p.value, out);
        else
            bad = read_limit(p.value, out);
        if (bad) return bad;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::vector<query_param>> parse_query(std::string_view query) {
    std::vector<query_param> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        auto piece = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (piece.empty()) continue;
        auto eq = piece.find('=');
        auto name = config::percent_decode(piece.substr(0, eq));
        auto value = config::percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                                         : piece.substr(eq + 1));
        if (!name || !value) return std::nullopt;
        out.push_back({std::move(*name), std::move(*value)});
    }
    return out;
}

std::optional<query_error> parse_replay_query(std::string_view query, page_query& out) {
    return parse_page(query, true, out);
}

std::optional<query_error> parse_dead_letter_query(std::string_view query, page_query& out) {
    return parse_page(query, false, out);
}

std::optional<query_error> parse_delete_query(std::string_view query, bool& all) {
    std::vector<query_param> params;
    if (auto bad = read_params(query, {"all"}, params)) return bad;
    all = false;
    for (const auto& p : params) {
        if (p.value != "true" && p.value != "false")
            return query_error{"all", "all must be true or false; got " + echo(p.value)};
        all = p.value == "true";
    }
    return std::nullopt;
}

std::optional<query_error> parse_groups_query(std::string_view query, std::string& after) {
    std::vector<query_param> params;
    if (auto bad = read_params(query, {"after"}, params)) return bad;
    after.clear();
    for (const auto& p : params) {
        if (!deliver::valid_group_name(p.value))
            return query_error{
                "after", "after must be a group name (1 to 128 of A-Z a-z 0-9 . _ : -); got " +
                             echo(p.value)};
        after = p.value;
    }
    return std::nullopt;
}

std::string echo(std::string_view text) {
    std::string out = "'" + printable(text);
    if (text.size() > 64) out += "...";
    out += '\'';
    return out;
}

}  // namespace sluice::streams
