#include "store/groups.hpp"

#include <algorithm>
#include <charconv>

namespace sluice::store {
namespace {

using kind = redis::reply::kind;

// Calls `on(name, value)` for each pair of a flat field/value array (RESP2 maps).
template <typename F>
bool for_each_pair(const redis::reply& r, F on) {
    if (r.type != kind::array || r.elements.size() % 2 != 0) return false;
    for (std::size_t i = 0; i < r.elements.size(); i += 2) {
        if (r.elements[i].type != kind::string && r.elements[i].type != kind::status) return false;
        on(std::string_view(r.elements[i].str), r.elements[i + 1]);
    }
    return true;
}

long long integer_of(const redis::reply& r) {
    if (r.type == kind::integer) return r.integer;
    long long n = 0;
    std::from_chars(r.str.data(), r.str.data() + r.str.size(), n);
    return n;
}

// The groups described by the XINFO GROUPS items [first, last).
std::optional<std::vector<group_info>> groups_from_items(const redis::reply* first,
                                                         const redis::reply* last) {
    std::vector<group_info> out;
    out.reserve(static_cast<std::size_t>(last - first));
    for (const auto* it = first; it != last; ++it) {
        const auto& item = *it;
        group_info g;
        bool ok = for_each_pair(item, [&](std::string_view name, const redis::reply& v) {
            if (name == "name")
                g.name = v.str;
            else if (name == "consumers")
                g.consumers = integer_of(v);
            else if (name == "pending")
                g.pending = integer_of(v);
            else if (name == "last-delivered-id")
                g.last_delivered = v.str;
            else if (name == "lag" && v.type != kind::nil)
                g.lag = integer_of(v);
        });
        if (!ok || g.name.empty()) return std::nullopt;
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace

std::optional<std::vector<group_info>> groups_from_xinfo(const redis::reply& r) {
    if (r.type != kind::array) return std::nullopt;
    return groups_from_items(r.elements.data(), r.elements.data() + r.elements.size());
}

std::size_t groups_to_list(std::size_t max_reply_bytes) {
    return std::clamp<std::size_t>(max_reply_bytes / 2 / group_reply_bytes, 1, max_groups_per_type);
}

std::optional<std::vector<group_info>> groups_from_listing(const redis::reply& r,
                                                           long long& total) {
    if (r.type != kind::array || r.elements.empty() || r.elements[0].type != kind::integer)
        return std::nullopt;
    auto groups = groups_from_items(r.elements.data() + 1, r.elements.data() + r.elements.size());
    if (groups) total = r.elements[0].integer;
    return groups;
}

bool read_consumers(const redis::reply& r, group_info& g) {
    if (r.type != kind::array) return false;
    g.consumer_list.clear();
    for (const auto& item : r.elements) {
        consumer_info c;
        bool ok = for_each_pair(item, [&](std::string_view name, const redis::reply& v) {
            if (name == "name")
                c.name = v.str;
            else if (name == "pending")
                c.pending = integer_of(v);
            else if (name == "idle")
                c.idle_ms = integer_of(v);
        });
        if (!ok) return false;
        g.consumer_list.push_back(std::move(c));
    }
    return true;
}

bool read_pending_summary(const redis::reply& r, group_info& g) {
    if (r.type != kind::array || r.elements.size() < 2) return false;
    const auto& smallest = r.elements[1];
    if (smallest.type == kind::string)
        g.oldest_pending = smallest.str;
    else
        g.oldest_pending.reset();
    return true;
}

std::optional<std::uint64_t> ms_from_time(const redis::reply& r) {
    if (r.type != kind::array || r.elements.size() != 2) return std::nullopt;
    std::uint64_t seconds = 0, micros = 0;
    const auto& s = r.elements[0].str;
    const auto& u = r.elements[1].str;
    auto [p1, e1] = std::from_chars(s.data(), s.data() + s.size(), seconds);
    auto [p2, e2] = std::from_chars(u.data(), u.data() + u.size(), micros);
    if (e1 != std::errc() || e2 != std::errc() || s.empty() || u.empty()) return std::nullopt;
    return seconds * 1000 + micros / 1000;
}

}  // namespace sluice::store
