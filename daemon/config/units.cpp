#include "config/units.hpp"

#include <charconv>
#include <limits>

namespace sluice::config {
namespace {

// Splits "123abc" into 123 and "abc". False when there is no leading number.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || p == text.data()) return false;
    unit = text.substr(static_cast<std::size_t>(p - text.data()));
    return true;
}

std::optional<std::uint64_t> scaled(std::uint64_t n, std::uint64_t factor) {
    if (n > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
    return n * factor;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::uint64_t n = 0;
    std::string_view unit;
    if (!split_number(text, n, unit)) return std::nullopt;
    std::uint64_t factor = 0;
    if (unit == "ms")
        factor = 1;
    else if (unit == "s")
        factor = 1000;
    else if (unit == "m")
        factor = 60'000;
    else if (unit == "h")
        factor = 3'600'000;
    else if (unit == "d")
        factor = 86'400'000;
    else
        return std::nullopt;
    auto ms = scaled(n, factor);
    if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t n = 0;
    std::string_view unit;
    if (!split_number(text, n, unit)) return std::nullopt;
    if (unit.empty() || unit == "B") return n;
    if (unit == "KiB") return scaled(n, 1ull << 10);
    if (unit == "MiB") return scaled(n, 1ull << 20);
    if (unit == "GiB") return scaled(n, 1ull << 30);
    if (unit == "KB") return scaled(n, 1000);
    if (unit == "MB") return scaled(n, 1000 * 1000);
    if (unit == "GB") return scaled(n, 1000 * 1000 * 1000);
    return std::nullopt;
}

}  // namespace sluice::config
