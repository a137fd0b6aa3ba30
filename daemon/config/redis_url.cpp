#include "config/redis_url.hpp"

#include <charconv>

namespace sluice::config {
namespace {

using redis::node_address;

template <typename Int>
bool parse_int(std::string_view s, Int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

bool parse_userinfo(std::string_view info, redis_endpoint& ep, std::string& why) {
    auto colon = info.find(':');
    std::string_view user = info.substr(0, colon);
    std::string_view pass =
        colon == std::string_view::npos ? std::string_view{} : info.substr(colon + 1);
    auto username = percent_decode(user);
    auto password = percent_decode(pass);
    if (username) ep.username = std::move(*username);
    if (password) ep.password = std::move(*password);
    if (!username || !password) {
        why = "bad percent-encoding in the user or password";
        return false;
    }
    return true;
}

// host[:port] or [v6]:port into `host` and `port` (left as it is when absent).
bool parse_address(std::string_view authority, std::string& host, std::uint16_t& port_out,
                   std::string& why) {
    std::string_view port_part;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "unclosed '[' in an IPv6 host";
            return false;
        }
        host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "expected ':port' after the IPv6 host";
                return false;
            }
            port_part = after.substr(1);
        }
    } else {
        auto colon = authority.find(':');
        host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_part = authority.substr(colon + 1);
    }
    if (host.empty()) {
        why = "the URL has no host";
        return false;
    }
    if (!port_part.empty() || authority.ends_with(':')) {
        unsigned port = 0;
        if (!parse_int(port_part, port) || port == 0 || port > 65535) {
            why = "the port must be a number from 1 to 65535";
            return false;
        }
        port_out = static_cast<std::uint16_t>(port);
    }
    return true;
}

// [user[:pass]@]h1:26379[,h2:26379...]/master[?db=N]: the user and password are the
// data nodes', as in redis://; the sentinels' own are separate settings.
std::optional<redis_endpoint> parse_sentinel(std::string_view rest, redis_endpoint& ep,
                                             std::string& why) {
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
        why =
            "a sentinel URL names the master after the sentinels, e.g. "
            "redis+sentinel://h1:26379,h2:26379/mymaster";
        return std::nullopt;
    }
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        if (!parse_userinfo(authority.substr(0, at), ep, why)) return std::nullopt;
        authority = authority.substr(at + 1);
    }
    while (!authority.empty()) {
        auto comma = authority.find(',');
        node_address a{{}, 26379};
        if (!parse_address(authority.substr(0, comma), a.host, a.port, why)) return std::nullopt;
        ep.sentinels.push_back(std::move(a));
        if (comma == std::string_view::npos) break;
        authority = authority.substr(comma + 1);
    }
    if (ep.sentinels.empty()) {
        why = "a sentinel URL needs at least one sentinel address";
        return std::nullopt;
    }
    auto q = path.find('?');
    std::string_view name = path.substr(0, q);
    if (name.empty() || name.find('/') != std::string_view::npos) {
        why = "the path must be the master's name, e.g. redis+sentinel://h1:26379/mymaster";
        return std::nullopt;
    }
    auto decoded = percent_decode(name);
    if (!decoded) {
        why = "bad percent-encoding in the master's name";
        return std::nullopt;
    }
    ep.master_name = std::move(*decoded);
    if (q != std::string_view::npos) {
        std::string_view query = path.substr(q + 1);
        if (!query.starts_with("db=") || !parse_int(query.substr(3), ep.db) || ep.db < 0) {
            why = "the only query parameter is db=N with N >= 0";
            return std::nullopt;
        }
    }
    // Until the sentinels say where the master is.
    ep.host = ep.sentinels.front().host;
    ep.port = 6379;
    return ep;
}

}  // namespace

std::optional<redis_endpoint> parse_redis_url(std::string_view url, std::string& why) {
    redis_endpoint ep;
    std::string_view rest;
    if (url.starts_with("redis://")) {
        ep.kind = redis_endpoint::transport::tcp;
        rest = url.substr(8);
    } else if (url.starts_with("rediss://")) {
        ep.kind = redis_endpoint::transport::tls;
        rest = url.substr(9);
    } else if (url.starts_with("redis+sentinel://")) {
        ep.kind = redis_endpoint::transport::tcp;
        rest = url.substr(17);
        return parse_sentinel(rest, ep, why);
    } else if (url.starts_with("rediss+sentinel://")) {
        ep.kind = redis_endpoint::transport::tls;
        rest = url.substr(18);
        return parse_sentinel(rest, ep, why);
    } else if (url.starts_with("unix://")) {
        ep.kind = redis_endpoint::transport::unix_socket;
        rest = url.substr(7);
    } else {
        why = url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://")
                  ? "Redis Cluster is not supported yet; use one master (redis://) or "
                    "Sentinel (redis+sentinel://)"
                  : "unsupported scheme; use redis://, rediss://, unix:// or redis+sentinel://";
        return std::nullopt;
    }

    if (ep.kind == redis_endpoint::transport::unix_socket) {
        // unix://[user:pass@]/path[?db=N]
        auto at = rest.find('@');
        if (at != std::string_view::npos && rest.find('/') > at) {
            if (!parse_userinfo(rest.substr(0, at), ep, why)) return std::nullopt;
            rest = rest.substr(at + 1);
        }
        auto q = rest.find('?');
        std::string_view path = rest.substr(0, q);
        if (path.empty() || path.front() != '/') {
            why = "a unix:// URL needs an absolute socket path, e.g. unix:///run/redis/redis.sock";
            return std::nullopt;
        }
        ep.path = std::string(path);
        if (q != std::string_view::npos) {
            std::string_view query = rest.substr(q + 1);
            if (!query.starts_with("db=") || !parse_int(query.substr(3), ep.db) || ep.db < 0) {
                why = "the only query parameter is db=N with N >= 0";
                return std::nullopt;
            }
        }
        return ep;
    }

    // [user[:pass]@]host[:port][/db]
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view db_part =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        if (!parse_userinfo(authority.substr(0, at), ep, why)) return std::nullopt;
        authority = authority.substr(at + 1);
    }
    if (!parse_address(authority, ep.host, ep.port, why)) return std::nullopt;
    if (!db_part.empty() && (!parse_int(db_part, ep.db) || ep.db < 0)) {
        why = "the path must be a database number, e.g. redis://host:6379/0";
        return std::nullopt;
    }
    return ep;
}

bool parse_host_port_into(std::string_view text, redis::node_address& out, std::string& why) {
    return parse_address(text, out.host, out.port, why);
}

std::optional<std::string> percent_decode(std::string_view text) {
    auto hex_value = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

}  // namespace sluice::config
