#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::config {

// "250ms", "10s", "5m", "1h", "7d" (a whole number and a unit, no spaces). Nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1048576", "512B", "64KiB", "1MiB", "1GiB" (also KB/MB/GB as 1000-based). Nullopt otherwise.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace sluice::config
