#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::deliver {

// One stream entry as Redis returned it: its id and its fields, name then value.
struct stream_entry {
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;

    // The value of `name`, or an empty view.
    std::string_view field(std::string_view name) const {
        for (const auto& [k, v] : fields)
            if (k == name) return v;
        return {};
    }
};

// Appends the CloudEvent JSON of a stored event: every CloudEvents attribute as a JSON
// string, `version` as a number, `data` as the JSON it holds, byte for byte. Fields
// whose names hold '_' (not valid CloudEvents attribute names) are Sluice's own
// metadata, e.g. a dead letter's `dlq_reason`, and are left out. Sans-I/O.
void append_event_json(std::string& out, const stream_entry& entry);

}  // namespace sluice::deliver
