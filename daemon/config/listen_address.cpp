#include "config/listen_address.hpp"

#include <charconv>

namespace sluice::config {

std::optional<host_port> parse_host_port(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    if (host.starts_with('[')) {
        if (!host.ends_with(']') || host.size() < 3) return std::nullopt;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return std::nullopt;  // a bare IPv6 address needs brackets
    }
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || value > 65535)
        return std::nullopt;
    host_port out;
    out.host = host.empty() ? "0.0.0.0" : std::string(host);
    out.port = static_cast<std::uint16_t>(value);
    return out;
}

}  // namespace sluice::config
