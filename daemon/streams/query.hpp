#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::streams {

// What a request names besides its body: query strings and path segments. Sans-I/O.

// A query parameter the client got wrong: which one, and a sentence saying what was
// expected and what came. Both are safe to put in a problem+json answer: a name the
// endpoint does not take is cut to 64 bytes with bytes outside printable ASCII shown
// as '?', like echo() without its quotes.
struct query_error {
    std::string parameter;
    std::string detail;
};

// One `name=value` pair of a query string, percent-decoded.
struct query_param {
    std::string name;
    std::string value;
};

// Splits `query` (the part after '?') into percent-decoded pairs, in order; empty
// pieces (`a=1&&b=2`) are skipped. '+' stays '+' (RFC 3986; RFC 3339 offsets use it).
// Nothing on a malformed escape such as `%G1` or a trailing `%`.
std::optional<std::vector<query_param>> parse_query(std::string_view query);

// Most entries one page (or one requeue or delete call) may hold: bounds the reply
// and the time one Redis command or script blocks the server.
inline constexpr std::size_t max_page = 1000;
inline constexpr std::size_t default_page = 100;

// One page of a stream, as XRANGE arguments.
struct page_query {
    std::string first = "-";  // XRANGE start, inclusive
    std::string last = "+";   // XRANGE end, inclusive
    std::size_t limit = default_page;
};

// GET /v1/streams/{type}/events: `from` (`start`, an entry id or an RFC 3339 time; the
// first entry at or after it), `to` (`end`, an entry id or a time; inclusive, a time
// or a bare `<ms>` covers its whole millisecond) and `limit` (1..1000, default 100).
// Unknown or repeated parameters are refused too, so a typo never goes unnoticed.
// Nothing when the query is good (`out` is filled), else what is wrong.
std::optional<query_error> parse_replay_query(std::string_view query, page_query& out);

// GET /v1/dlq/{type}: `from` and `limit`, as for replay.
std::optional<query_error> parse_dead_letter_query(std::string_view query, page_query& out);

// GET /v1/types/{type}/groups: `after` (a group name; list the groups named after
// it, for the next page). `after` is empty when absent.
std::optional<query_error> parse_groups_query(std::string_view query, std::string& after);

// DELETE /v1/dlq/{type}: `all` (`true` or `false`); `all` is false when absent.
std::optional<query_error> parse_delete_query(std::string_view query, bool& all);

// `text` cut to 64 bytes with bytes outside printable ASCII shown as '?', quoted:
// safe to echo in a problem detail whatever the client sent.
std::string echo(std::string_view text);

}  // namespace sluice::streams
