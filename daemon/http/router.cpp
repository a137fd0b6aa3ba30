#include "http/router.hpp"

#include <stdexcept>

namespace sluice::http {

std::size_t router::add(std::string_view method, std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
    route r{std::string(method), std::string(pattern), {}};
    std::string_view rest = pattern.substr(1);
    while (true) {
        auto slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}')
            r.segments.push_back({std::string(seg.substr(1, seg.size() - 2)), true});
        else if (seg.find_first_of("{}") != std::string_view::npos)
            throw std::invalid_argument("a parameter must be a whole segment: " +
                                        std::string(pattern));
        else
            r.segments.push_back({std::string(seg), false});
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    for (const auto& other : routes_)
        if (other.method == r.method && other.pattern == r.pattern)
            throw std::invalid_argument("duplicate route: " + r.method + " " + r.pattern);
    routes_.push_back(std::move(r));
    return routes_.size() - 1;
}

bool router::matches(const route& r, std::string_view path, route_params* params) {
    if (path.empty() || path.front() != '/') return false;
    std::string_view rest = path.substr(1);
    for (std::size_t i = 0; i < r.segments.size(); ++i) {
        auto slash = rest.find('/');
        bool last = i + 1 == r.segments.size();
        if (last != (slash == std::string_view::npos)) return false;
        std::string_view seg = rest.substr(0, slash);
        const auto& want = r.segments[i];
        if (want.is_param) {
            if (seg.empty()) return false;
            if (params) params->add(want.text, seg);
        } else if (seg != want.text) {
            return false;
        }
        if (!last) rest = rest.substr(slash + 1);
    }
    return true;
}

router::match_result router::match(std::string_view method, std::string_view path,
                                   route_params& params) const {
    match_result out;
    std::string_view effective = method == "HEAD" ? std::string_view("GET") : method;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& r = routes_[i];
        if (r.method != effective) continue;
        params.clear();
        if (matches(r, path, &params)) {
            out.result = match_result::outcome::found;
            out.route = i;
            out.pattern = r.pattern;
            return out;
        }
    }
    params.clear();
    // The path exists under other methods: 405 with the methods that would work.
    for (const auto& r : routes_) {
        if (!matches(r, path, nullptr)) continue;
        out.result = match_result::outcome::method_not_allowed;
        if (out.allow.find(r.method) == std::string::npos) {
            if (!out.allow.empty()) out.allow += ", ";
            out.allow += r.method;
            if (r.method == "GET") out.allow += ", HEAD";
        }
    }
    return out;
}

}  // namespace sluice::http
