#include "redis/topology.hpp"

#include <charconv>

namespace sluice::redis {

node_role role_of(const reply& r) {
    if (r.type != reply::kind::array || r.elements.empty()) return node_role::unknown;
    const auto& first = r.elements.front().str;
    if (first == "master") return node_role::master;
    if (first == "slave" || first == "replica") return node_role::replica;
    if (first == "sentinel") return node_role::sentinel;
    return node_role::unknown;
}

std::optional<node_address> master_address_of(const reply& r) {
    if (r.type != reply::kind::array || r.elements.size() != 2) return std::nullopt;
    const auto& host = r.elements[0];
    const auto& port = r.elements[1];
    if (host.type != reply::kind::string || host.str.empty() || port.type != reply::kind::string)
        return std::nullopt;
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.str.data(), port.str.data() + port.str.size(), n);
    if (ec != std::errc{} || end != port.str.data() + port.str.size() || n == 0 || n > 65535)
        return std::nullopt;
    return node_address{host.str, static_cast<std::uint16_t>(n)};
}

endpoint sentinel_endpoint(const endpoint& nodes, const node_address& sentinel) {
    endpoint out;
    out.kind = nodes.kind;
    out.host = sentinel.host;
    out.port = sentinel.port;
    out.username = nodes.sentinel_username;
    out.password = nodes.sentinel_password;
    return out;
}

}  // namespace sluice::redis
