#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http {

// `{name}` segments of a matched route, as views into the request path.
class route_params {
  public:
    void add(std::string_view name, std::string_view value) { items_.emplace_back(name, value); }
    // The value of `{name}`, or an empty view when the route has no such segment.
    std::string_view get(std::string_view name) const {
        for (const auto& [k, v] : items_)
            if (k == name) return v;
        return {};
    }
    std::size_t size() const { return items_.size(); }
    void clear() { items_.clear(); }

  private:
    std::vector<std::pair<std::string_view, std::string_view>> items_;
};

// Maps (method, path) to a route index. Patterns are literal segments and `{name}`
// segments, e.g. "/v1/streams/{type}/groups". Sans-I/O; built once at start, then
// read-only, so any thread may call match() concurrently.
class router {
  public:
    struct match_result {
        enum class outcome { found, not_found, method_not_allowed };
        outcome result = outcome::not_found;
        std::size_t route = 0;     // with found: the index add() returned
        std::string_view pattern;  // with found: the route's pattern (a metrics label)
        std::string allow;         // with method_not_allowed: e.g. "GET, HEAD"
    };

    // Adds a route and returns its index. A GET route also answers HEAD.
    // Throws std::invalid_argument on a malformed pattern or a duplicate route.
    std::size_t add(std::string_view method, std::string_view pattern);

    // `path` is the request target without its query string. Fills `params` on found.
    match_result match(std::string_view method, std::string_view path, route_params& params) const;

  private:
    struct segment {
        std::string text;
        bool is_param = false;
    };
    struct route {
        std::string method;
        std::string pattern;
        std::vector<segment> segments;
    };

    static bool matches(const route& r, std::string_view path, route_params* params);

    std::vector<route> routes_;
};

}  // namespace sluice::http
