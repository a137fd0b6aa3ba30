#include "store/entries.hpp"

namespace sluice::store {
namespace {

bool read_entry(redis::reply& item, stream_entry& out) {
    if (item.type != redis::reply::kind::array || item.elements.size() < 2) return false;
    auto& id = item.elements[0];
    auto& fields = item.elements[1];
    if (id.type != redis::reply::kind::string || fields.type != redis::reply::kind::array)
        return false;
    out.id = std::move(id.str);
    out.fields.clear();
    out.fields.reserve(fields.elements.size() / 2);
    for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
        out.fields.emplace_back(std::move(fields.elements[i].str),
                                std::move(fields.elements[i + 1].str));
    return true;
}

}  // namespace

std::vector<stream_entry> entries_of(redis::reply& list) {
    std::vector<stream_entry> out;
    if (list.type != redis::reply::kind::array) return out;
    out.reserve(list.elements.size());
    for (auto& item : list.elements) {
        stream_entry e;
        if (read_entry(item, e)) out.push_back(std::move(e));
    }
    return out;
}

std::vector<stream_entry> entries_of_read(redis::reply& r) {
    if (r.type != redis::reply::kind::array || r.elements.empty()) return {};
    auto& stream = r.elements[0];
    if (stream.type != redis::reply::kind::array || stream.elements.size() < 2) return {};
    return entries_of(stream.elements[1]);
}

std::optional<std::vector<stream_entry>> entries_from_xrange(const redis::reply& r) {
    using kind = redis::reply::kind;
    if (r.type != kind::array) return std::nullopt;
    std::vector<stream_entry> out;
    out.reserve(r.elements.size());
    for (const auto& e : r.elements) {
        if (e.type != kind::array || e.elements.size() != 2 || e.elements[0].type != kind::string ||
            e.elements[1].type != kind::array || e.elements[1].elements.size() % 2 != 0)
            return std::nullopt;
        stream_entry entry;
        entry.id = e.elements[0].str;
        const auto& fields = e.elements[1].elements;
        entry.fields.reserve(fields.size() / 2);
        for (std::size_t i = 0; i < fields.size(); i += 2)
            entry.fields.emplace_back(fields[i].str, fields[i + 1].str);
        out.push_back(std::move(entry));
    }
    return out;
}

claim_result claim_result_of(redis::reply& r) {
    claim_result out;
    if (r.type != redis::reply::kind::array || r.elements.size() < 2) return out;
    for (auto& item : r.elements[0].elements) {
        if (item.type != redis::reply::kind::array || item.elements.size() < 3) continue;
        claimed_entry c;
        c.delivery = static_cast<std::uint64_t>(item.elements[2].integer);
        item.elements.resize(2);
        if (read_entry(item, c.entry)) out.claimed.push_back(std::move(c));
    }
    for (auto& id : r.elements[1].elements)
        if (id.type == redis::reply::kind::string) out.dead.push_back(std::move(id.str));
    if (r.elements.size() > 2 && r.elements[2].type == redis::reply::kind::string &&
        !r.elements[2].str.empty())
        out.next = std::move(r.elements[2].str);
    return out;
}

}  // namespace sluice::store
