#include "catalog/schema_catalog.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "schema/schema.hpp"

namespace sluice::catalog {
namespace fs = std::filesystem;

std::size_t schema_catalog::version_count() const {
    std::size_t n = 0;
    for (const auto& [type, versions] : types) n += versions.size();
    return n;
}

bool is_valid_type_name(const std::string& name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

namespace {

std::string file_uri(const fs::path& p) {
    return "file://" + fs::absolute(p).lexically_normal().generic_string();
}

bool parse_version(const std::string& file_name, unsigned& version) {
    if (file_name.size() < 7 || file_name.front() != 'v' || !file_name.ends_with(".json"))
        return false;
    std::string_view digits(file_name.data() + 1, file_name.size() - 6);
    if (digits.empty() || digits.front() == '0') return false;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    return ec == std::errc{} && p == digits.data() + digits.size();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw catalog_error(p.string() + ": cannot read the schema file");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Adds every JSON document under `dir` to one schema set (so contracts can share
// definitions by $id), then compiles each version.
void compile_all(const std::string& dir, schema_catalog& catalog) {
    schema::schema_set set;
    try {
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
            set.add(file_uri(entry.path()), read_file(entry.path()), entry.path().string());
        }
        for (auto& [type, versions] : catalog.types)
            for (auto& v : versions) v.validator = set.compile(file_uri(v.path));
    } catch (const schema::schema_error& e) {
        throw catalog_error(e.what());
    }
}

// Resolves each type's policy and checks its versions evolve as the policy says.
void apply_policies(const std::string& dir,
                    const std::map<std::string, registry::type_policy>& policies,
                    const registry::type_policy& defaults, schema_catalog& catalog) {
    for (const auto& [type, policy] : policies)
        if (!catalog.types.count(type))
            throw catalog_error("types." + type + " in the config has no schemas; expected " + dir +
                                "/" + type + "/v1.json");
    for (auto& [type, versions] : catalog.types) {
        auto it = policies.find(type);
        auto policy = it == policies.end() ? defaults : it->second;
        if (policy.default_version != 0 &&
            std::none_of(versions.begin(), versions.end(),
                         [&](const schema_file& f) { return f.version == policy.default_version; }))
            throw catalog_error("types." + type + ".default_version is " +
                                std::to_string(policy.default_version) + ", but " + dir + "/" +
                                type + " has no v" + std::to_string(policy.default_version) +
                                ".json");
        if (policy.default_version == 0) policy.default_version = versions.back().version;
        catalog.policies[type] = policy;
        if (policy.mode == registry::compatibility::none) continue;
        // Each version must be allowed to follow the ones before it.
        std::vector<simdjson::dom::parser> parsers(versions.size());
        std::vector<registry::labelled_schema> chain;
        for (std::size_t i = 0; i < versions.size(); ++i) {
            chain.push_back({"v" + std::to_string(versions[i].version),
                             parsers[i].parse(versions[i].text).value()});
            if (auto why = registry::check_evolution(policy.mode, chain); !why.empty())
                throw catalog_error(versions[i].path + ": " + why + " (compatibility: " +
                                    std::string(registry::to_string(policy.mode)) + ")");
        }
    }
}

}  // namespace

schema_catalog load_catalog(const std::string& dir,
                            const std::map<std::string, registry::type_policy>& policies,
                            const registry::type_policy& defaults) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw catalog_error(dir +
                            ": the schemas folder does not exist or is not a folder; "
                            "set schemas.dir to a folder holding <type>/v<N>.json");
    schema_catalog out;
    simdjson::dom::parser parser;
    for (const auto& type_entry : fs::directory_iterator(dir)) {
        if (!type_entry.is_directory()) continue;
        std::string type = type_entry.path().filename().string();
        if (type.starts_with('_')) continue;  // shared definitions, available to $ref only
        if (!is_valid_type_name(type))
            throw catalog_error(
                type_entry.path().string() +
                ": not a valid event type name; use letters, digits, '.', '_' and '-'");
        std::vector<schema_file> versions;
        for (const auto& file : fs::directory_iterator(type_entry.path())) {
            auto name = file.path().filename().string();
            if (!file.is_regular_file() || !name.ends_with(".json")) continue;
            schema_file sf;
            if (!parse_version(name, sf.version))
                throw catalog_error(
                    file.path().string() +
                    ": schema files are named v<N>.json with N = 1, 2, ...; rename it");
            sf.path = file.path().string();
            sf.text = read_file(file.path());
            simdjson::dom::element doc;
            auto error = parser.parse(sf.text).get(doc);
            if (error)
                throw catalog_error(sf.path + ": not valid JSON (" +
                                    simdjson::error_message(error) + ")");
            if (!doc.is_object() && !doc.is_bool())
                throw catalog_error(sf.path + ": a JSON Schema must be an object or a boolean");
            versions.push_back(std::move(sf));
        }
        if (versions.empty()) continue;
        std::sort(versions.begin(), versions.end(),
                  [](const schema_file& a, const schema_file& b) { return a.version < b.version; });
        out.types.emplace(std::move(type), std::move(versions));
    }
    compile_all(dir, out);
    apply_policies(dir, policies, defaults, out);
    return out;
}

}  // namespace sluice::catalog
