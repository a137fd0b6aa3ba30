#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::store {

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

}  // namespace sluice::store
