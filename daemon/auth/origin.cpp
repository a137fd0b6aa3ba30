#include "auth/origin.hpp"

#include <algorithm>

namespace sluice::auth {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// "scheme://host[:port]" -> its parts; false when it is not that shape.
bool split(std::string_view origin, std::string_view& scheme, std::string_view& host,
           std::string_view& port) {
    auto sep = origin.find("://");
    if (sep == std::string_view::npos || sep == 0) return false;
    scheme = origin.substr(0, sep);
    auto rest = origin.substr(sep + 3);
    if (rest.empty() || rest.find('/') != std::string_view::npos) return false;
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.back() != ']') {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (port.empty() ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
    } else {
        host = rest;
        port = {};
    }
    return !host.empty();
}

bool entry_matches(const std::string& entry, const std::string& origin) {
    if (entry == origin) return true;
    std::string_view es, eh, ep, os, oh, op;
    if (!split(entry, es, eh, ep) || !split(origin, os, oh, op)) return false;
    if (!eh.starts_with("*.") || es != os || ep != op) return false;
    auto suffix = eh.substr(1);  // ".example.com"
    return oh.size() > suffix.size() && oh.ends_with(suffix);
}

}  // namespace

bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& allowed) {
    if (origin.empty()) return true;
    auto o = lower(origin);
    if (allowed.empty()) {
        std::string_view scheme, h, port;
        if (!split(o, scheme, h, port)) return false;
        auto self = o.substr(o.find("://") + 3);
        return !host.empty() && self == lower(host);
    }
    return std::any_of(allowed.begin(), allowed.end(),
                       [&](const std::string& e) { return entry_matches(lower(e), o); });
}

std::string origin_entry_problem(std::string_view entry) {
    if (entry == "null") return {};
    std::string_view scheme, host, port;
    if (!split(entry, scheme, host, port))
        return "an origin is scheme://host or scheme://host:port (no path), e.g. "
               "https://app.example.com, or https://*.example.com for its subdomains";
    if (host.find('*') != std::string_view::npos &&
        (!host.starts_with("*.") || host.substr(2).find('*') != std::string_view::npos ||
         host.size() < 3))
        return "a wildcard stands only for subdomains, as in https://*.example.com";
    return {};
}

}  // namespace sluice::auth
