#include "streams/groups.hpp"

#include "deliver/position.hpp"
#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::streams {

using store::group_info;

std::string groups_json(std::string_view type, const std::vector<group_info>& groups,
                        std::uint64_t now_ms, const group_page& page) {
    std::string out = R"({"type":)";
    json::append_string(out, type);
    out += R"(,"groups":[)";
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        if (i) out += ',';
        out += R"({"name":)";
        json::append_string(out, g.name);
        out += R"(,"consumers":{"count":)" + std::to_string(g.consumers) + R"(,"list":[)";
        for (std::size_t k = 0; k < g.consumer_list.size(); ++k) {
            const auto& c = g.consumer_list[k];
            if (k) out += ',';
            out += R"({"name":)";
            json::append_string(out, c.name);
            out += R"(,"pending":)" + std::to_string(c.pending) + R"(,"idle_ms":)" +
                   std::to_string(c.idle_ms) + '}';
        }
        out += R"(]},"pending":)" + std::to_string(g.pending) + R"(,"lag":)" +
               (g.lag ? std::to_string(*g.lag) : std::string("null")) + R"(,"last_delivered":)";
        json::append_string(out, g.last_delivered);
        out += R"(,"age_ms":)";
        auto oldest = g.oldest_pending ? deliver::parse_entry_id(*g.oldest_pending) : std::nullopt;
        if (oldest)
            out += std::to_string(now_ms > oldest->ms ? now_ms - oldest->ms : 0);
        else
            out += "null";
        out += '}';
    }
    out += ']';
    if (!page.next.empty()) out += R"(,"truncated":true)";
    if (page.total >= 0) out += R"(,"total":)" + std::to_string(page.total);
    if (!page.next.empty()) {
        out += R"(,"next":)";
        json::append_string(out, page.next);
    }
    out += '}';
    return out;
}

}  // namespace sluice::streams
