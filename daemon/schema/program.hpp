#pragma once

// The compiled form of a schema: a flat vector of nodes, each a list of operations
// whose children are node indices (so recursive schemas are just cycles of indices).
// Internal to daemon/schema.

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schema/formats.hpp"
#include "schema/json_types.hpp"
#include "schema/regex.hpp"
#include "schema/schema.hpp"

namespace sluice::schema {

inline constexpr std::uint32_t no_node = std::numeric_limits<std::uint32_t>::max();

enum class op_kind : std::uint8_t {
    type,
    enum_values,
    const_value,
    multiple_of,
    maximum,
    exclusive_maximum,
    minimum,
    exclusive_minimum,
    max_length,
    min_length,
    pattern,
    format,
    max_items,
    min_items,
    unique_items,
    contains,  // with min/max contains
    max_properties,
    min_properties,
    required,
    dependent_required,
    properties,  // properties + patternProperties + additionalProperties together
    property_names,
    dependent_schemas,
    items,  // prefixItems + items (2020-12), or array items + additionalItems (draft-07)
    unevaluated_items,
    unevaluated_properties,
    ref,
    dynamic_ref,
    all_of,
    any_of,
    one_of,
    not_schema,
    if_then_else,
};

struct op {
    op_kind kind;
    std::string keyword;      // as in the schema: "minimum", "$ref", ...
    std::string absolute;     // absolute keyword location
    long double number = 0;   // numeric limits (exact for any 64-bit integer), multipleOf
    std::uint64_t count = 0;  // length / items / properties limits, minContains
    std::uint64_t count_max = std::numeric_limits<std::uint64_t>::max();  // maxContains
    std::uint32_t types = 0;
    std::uint32_t a = no_node, b = no_node, c = no_node;       // single children (see compiler)
    std::vector<std::uint32_t> list;                           // allOf/anyOf/oneOf/prefixItems
    std::vector<std::pair<std::string, std::uint32_t>> named;  // properties, dependentSchemas
    std::vector<std::pair<std::shared_ptr<regex>, std::uint32_t>> patterns;
    std::vector<std::string> names;  // required
    // properties: `required` folded in when every required name is a declared
    // property (the common case), so one pass over the instance checks both.
    std::vector<std::uint64_t> required_mask;  // per `named` entry: its bit, or 0
    std::uint64_t required_all = 0;            // all bits of the folded `required`
    std::string required_absolute;             // its absolute keyword location
    std::vector<std::pair<std::string, std::vector<std::string>>> dependencies;
    simdjson::dom::element value;  // const, enum (an array)
    format_kind format = format_kind::unknown;
    std::string format_name;
    std::shared_ptr<regex> re;
    std::string anchor;  // dynamicRef: the dynamic anchor to look up in the dynamic scope
};

// A schema made only of checks on the instance itself (type, string and number
// constraints, a string enum): evaluated in one tight function on the success path,
// with the instance's type decoded once. The ops stay for explaining failures.
struct leaf_checks {
    std::uint32_t types = 0x7F;
    std::uint64_t min_length = 0, max_length = std::numeric_limits<std::uint64_t>::max();
    format_kind format = format_kind::unknown;
    const regex* pattern = nullptr;
    bool string_checks = false;
    long double minimum = -std::numeric_limits<long double>::infinity();
    long double maximum = std::numeric_limits<long double>::infinity();
    long double exclusive_minimum = -std::numeric_limits<long double>::infinity();
    long double exclusive_maximum = std::numeric_limits<long double>::infinity();
    bool number_checks = false;
    bool has_multiple_of = false;  // left to the op: needs its careful arithmetic
    bool has_enum = false;
    std::vector<std::string> enum_strings;
};

struct node {
    bool is_boolean = false;
    bool boolean_value = true;
    bool resource_root = false;
    bool needs_annotations = false;  // uses unevaluated*: in-place children must report
    std::uint32_t resource = 0;
    std::string absolute;  // absolute location of the schema
    std::vector<op> ops;
    bool is_leaf = false;
    leaf_checks leaf;
};

struct resource_entry {
    std::string uri;
    std::unordered_map<std::string, std::uint32_t> dynamic_anchors;  // name -> node
};

struct validator::program {
    std::vector<node> nodes;
    std::vector<resource_entry> resources;
    std::uint32_t root = 0;
    compile_options options;
    std::shared_ptr<const void> keep_alive;  // the documents `value`s point into
};

}  // namespace sluice::schema
