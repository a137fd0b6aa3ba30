#include "config/redis_url.hpp"

#include <charconv>

namespace sluice::config {
namespace {

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
    } else if (url.starts_with("unix://")) {
        ep.kind = redis_endpoint::transport::unix_socket;
        rest = url.substr(7);
    } else {
        why = "unsupported scheme; use redis://, rediss:// or unix://";
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
    std::string_view port_part;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "unclosed '[' in an IPv6 host";
            return std::nullopt;
        }
        ep.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "expected ':port' after the IPv6 host";
                return std::nullopt;
            }
            port_part = after.substr(1);
        }
    } else {
        auto colon = authority.find(':');
        ep.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_part = authority.substr(colon + 1);
    }
    if (ep.host.empty()) {
        why = "the URL has no host";
        return std::nullopt;
    }
    if (!port_part.empty() || authority.ends_with(':')) {
        unsigned port = 0;
        if (!parse_int(port_part, port) || port == 0 || port > 65535) {
            why = "the port must be a number from 1 to 65535";
            return std::nullopt;
        }
        ep.port = static_cast<std::uint16_t>(port);
    }
    if (!db_part.empty() && (!parse_int(db_part, ep.db) || ep.db < 0)) {
        why = "the path must be a database number, e.g. redis://host:6379/0";
        return std::nullopt;
    }
    return ep;
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
