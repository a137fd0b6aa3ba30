// The position parsers (deliver/position.hpp): stream entry ids, RFC 3339 times and
// the protocol's `from`, all client text. Whatever parses must print and parse back
// to the same value, since the broker hands these on to Redis as text.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "deliver/position.hpp"
#include "fuzz_check.hpp"

using namespace sluice::deliver;
using sluice::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto id = parse_entry_id(text)) {
        auto again = parse_entry_id(id->str());
        require(again && *again == *id, "an entry id prints and parses back to itself");
        require(id->before() <= *id, "before() is not after the id");
    }
    (void)parse_rfc3339_ms(text);
    if (auto pos = parse_start_position(text)) {
        auto after = pos->after();
        if (pos->where == start_position::kind::newest) {
            require(after == "$", "newest reads after $");
        } else {
            require(parse_entry_id(after).has_value(), "a start position reads after an entry id");
        }
    }
    return 0;
}
