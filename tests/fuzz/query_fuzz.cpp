// The query-string parsers of the replay, dead-letter and delete endpoints
// (streams/query.hpp). A query is accepted within its bounds or refused naming the
// parameter; the refusal goes into a problem+json answer, so its parameter and
// detail must be UTF-8 whatever bytes the client percent-encoded.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "streams/query.hpp"

using namespace sluice::streams;
using sluice::fuzz::is_utf8;
using sluice::fuzz::require;

namespace {

void check_refusal(const query_error& e) {
    require(!e.detail.empty(), "a refusal says what is wrong");
    require(is_utf8(e.parameter) && is_utf8(e.detail), "a refusal is UTF-8, fit for JSON");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view query(reinterpret_cast<const char*>(data), size);
    (void)parse_query(query);

    page_query page;
    if (auto e = parse_replay_query(query, page))
        check_refusal(*e);
    else
        require(page.limit >= 1 && page.limit <= max_page, "a replay page is within 1..max_page");

    page_query dlq;
    if (auto e = parse_dead_letter_query(query, dlq))
        check_refusal(*e);
    else
        require(dlq.limit >= 1 && dlq.limit <= max_page,
                "a dead-letter page is within 1..max_page");

    bool all = false;
    if (auto e = parse_delete_query(query, all)) check_refusal(*e);

    auto shown = echo(query);
    require(shown.size() <= 64 + 5, "echo() is bounded");
    for (char c : shown) require(c >= 0x20 && c < 0x7f, "echo() is printable ASCII");
    return 0;
}
