#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

struct host_port {
    std::string host;
    std::uint16_t port = 0;
};

// Parses "host:port", "[v6]:port" or ":port" (all interfaces). Port 0..65535.
std::optional<host_port> parse_host_port(std::string_view text);

}  // namespace sluice::config
