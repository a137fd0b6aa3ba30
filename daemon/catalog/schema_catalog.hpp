#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "registry/type_policy.hpp"

namespace sluice::schema {
class validator;
}

namespace sluice::catalog {

// A schema file that cannot be used; what() names the file and what to fix.
class catalog_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct schema_file {
    unsigned version = 0;  // N of v<N>.json
    std::string path;
    std::string text;                                    // the JSON Schema document, as on disk
    std::shared_ptr<const schema::validator> validator;  // compiled once, at load
};

// The event types and versions found under a schemas folder laid out as
// `<type>/v<N>.json`, each compiled by the contract engine at load. Folders whose
// names start with '_' (e.g. `_shared/`) hold shared definitions, not types; every
// JSON file under the folder is available to `$ref` by its `$id` or file:// path. Immutable once
// loaded; safe to share between threads.
struct schema_catalog {
    std::map<std::string, std::vector<schema_file>> types;  // versions sorted ascending
    std::map<std::string, registry::type_policy> policies;  // every type in `types`, resolved

    std::size_t version_count() const;
};

// Loads and compiles every `<type>/v<N>.json` under `dir`. Throws catalog_error on an
// unreadable folder, a file that is not valid JSON, a misnamed file, an invalid type
// name, or a schema the engine refuses (with the file and the JSON Pointer).
// `policies` (config `types`) and `defaults` (config `type_defaults`) give each type its
// default version, compatibility mode and retention; the versions of each type must
// follow its mode (see registry::check_evolution), and a configured type must exist.
schema_catalog load_catalog(const std::string& dir,
                            const std::map<std::string, registry::type_policy>& policies = {},
                            const registry::type_policy& defaults = {});

// True for a usable event type name: 1..128 of [a-zA-Z0-9._-], not starting with '.'.
bool is_valid_type_name(const std::string& name);

}  // namespace sluice::catalog
