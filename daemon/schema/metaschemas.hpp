#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace sluice::schema {

// The draft 2020-12 meta-schema and its vocabulary meta-schemas, built in so a
// contract may `$ref` them (to validate schemas) without any network access.
// Pairs of (URI, JSON text).
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_metaschemas();

}  // namespace sluice::schema
