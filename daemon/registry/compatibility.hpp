#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::registry {

// How a type's versions may evolve, as schema registries for Kafka define it.
// backward: consumers on the new version read events written under the previous one
// (every event valid under the previous version is valid under the new one);
// forward: the other way round; full: both. *_transitive: against every earlier
// version, not just the previous one.
enum class compatibility {
    none,
    backward,
    forward,
    full,
    backward_transitive,
    forward_transitive,
    full_transitive
};

// Parses "none", "backward", ..., "full_transitive". False on anything else.
bool parse_compatibility(std::string_view text, compatibility& out);
std::string_view to_string(compatibility c);

// Whether every instance valid under one schema is valid under another.
struct verdict {
    enum class outcome { proven, broken, unprovable };
    outcome result = outcome::proven;
    std::string reason;  // for broken and unprovable: what and where, for a person
};

// Decides whether every instance valid under `narrow` (labelled `narrow_label`, e.g.
// "v1") is valid under `wide` ("v2"). Sound: `proven` only when it holds for every
// instance; a construct it cannot reason about in `wide` (anyOf, patterns that differ,
// remote $ref...) gives `unprovable` and names it, never a guess. Local `$ref`s
// ("#/$defs/...") are followed within each schema's document.
verdict check_subset(simdjson::dom::element narrow, std::string_view narrow_label,
                     simdjson::dom::element wide, std::string_view wide_label);

// Checks that `versions.back()` may follow the earlier `versions` (ascending, labels
// "v1", "v2"...) under `mode`. Empty when it may; otherwise why not, e.g.
// "v2 breaks backward compatibility with v1: `email` is required by v2 but not by v1:
// events valid under v1 would be rejected".
struct labelled_schema {
    std::string label;
    simdjson::dom::element schema;
};
std::string check_evolution(compatibility mode, const std::vector<labelled_schema>& versions);

}  // namespace sluice::registry
