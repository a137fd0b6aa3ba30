#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/settings.hpp"

namespace sluice::config {

// A config that cannot be used. what() is one line for the operator:
// `file:line:column: what is wrong; what was expected` (or `VARIABLE: ...` for the
// environment). Thrown only on the control path (start-up and reload).
class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Reads an environment variable; nullopt when unset. Injected so tests stay hermetic.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real process environment.
env_lookup process_environment();

// Parses and validates a YAML config, then applies the environment overrides
// SLUICE_LISTEN (host:port), SLUICE_REDIS_URL, SLUICE_LOG_LEVEL, SLUICE_LOG_FORMAT and
// SLUICE_SCHEMAS_DIR. `source` names the text in messages. Relative paths in the
// config resolve against `base_dir`. Throws config_error.
settings parse(std::string_view yaml_text, const std::string& source, const std::string& base_dir,
               const env_lookup& env);

// Reads `path` and parses it as above, with base_dir = the file's folder.
settings load_file(const std::string& path, const env_lookup& env);

}  // namespace sluice::config
