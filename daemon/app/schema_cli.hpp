#pragma once

#include <string>
#include <vector>

namespace sluice::app {

// `sluice schema validate SCHEMA INSTANCE... [--loop N]` and
// `sluice schema test FILE_OR_DIR... [--remotes DIR]`. `args` are the words after
// "schema". Returns the exit code: 0 all good, 1 a failure, 2 bad usage or schema.
int run_schema_command(const std::vector<std::string>& args);

}  // namespace sluice::app
