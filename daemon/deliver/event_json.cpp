#include "deliver/event_json.hpp"

#include "json/write.hpp"
#include "log/logger.hpp"

namespace sluice::deliver {

void append_event_json(std::string& out, const stream_entry& entry) {
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
