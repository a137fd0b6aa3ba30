#include "deliver/event_json.hpp"

#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::deliver {

void append_event_json(std::string& out, const stream_entry& entry) {
    // Room for every field and its quoting up front: one allocation, no regrowth
    // (attributes rarely need escapes; if they do, the string grows as usual).
    std::size_t need = out.size() + 2;
    for (const auto& [name, value] : entry.fields) need += name.size() + value.size() + 6;
    out.reserve(need);
    out += '{';
    bool first = true;
    for (const auto& [name, value] : entry.fields) {
        if (name.find('_') != std::string::npos) continue;
        if (!first) out += ',';
        first = false;
        out += '"';
        json::append_escaped(out, name);
        out += "\":";
        bool numeric = name == "version" && !value.empty() &&
                       value.find_first_not_of("0123456789") == std::string::npos;
        if (name == "data" || numeric) {
            out += value;  // stored minified JSON (data) or a decimal (version)
        } else {
            json::append_string(out, value);
        }
    }
    out += '}';
}

}  // namespace sluice::deliver
