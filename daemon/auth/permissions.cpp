#include "auth/permissions.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace sluice::auth {
namespace {

constexpr std::array<std::pair<std::string_view, action>, 6> actions{{
    {"publish", action::publish},
    {"subscribe", action::subscribe},
    {"consume", action::consume},
    {"replay", action::replay},
    {"admin", action::admin},
    {"metrics", action::metrics},
}};

bool any_matches(const std::vector<std::string>& patterns, std::string_view name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return matches(p, name); });
}

}  // namespace

std::optional<action> action_named(std::string_view name) {
    for (auto [n, a] : actions)
        if (n == name) return a;
    return std::nullopt;
}

std::string_view name_of(action a) {
    for (auto [n, x] : actions)
        if (x == a) return n;
    return "unknown";
}

// Glob matching with one kind of wildcard, iterative with backtracking to the last
// `*`: linear in practice, O(pattern x name) at worst, and patterns are short.
bool matches(std::string_view pattern, std::string_view name) {
    std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
    while (n < name.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = n;
        } else if (p < pattern.size() && pattern[p] == name[n]) {
            ++p;
            ++n;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::string pattern_problem(std::string_view pattern) {
    if (pattern.empty()) return "a pattern is not empty";
    if (pattern.size() > 256) return "a pattern is at most 256 bytes";
    for (unsigned char c : pattern)
        if (c < 0x21 || c > 0x7e) return "a pattern is printable ASCII without spaces";
    return {};
}

bool principal::may(action a, std::string_view type, std::string_view group) const {
    auto bit = static_cast<action_set>(a);
    for (const auto& g : grants) {
        if (!(g.allow & bit)) continue;
        if (a == action::metrics) return true;
        if (!any_matches(g.types, type)) continue;
        if (a == action::consume && !g.groups.empty() && !any_matches(g.groups, group)) continue;
        return true;
    }
    return false;
}

}  // namespace sluice::auth
