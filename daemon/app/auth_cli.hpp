#pragma once

#include <string>
#include <vector>

namespace sluice::app {

// `sluice auth new-key` prints a new random API key and, on stderr, the SHA-256 line
// to put in the config; `sluice auth hash-key` prints the SHA-256 of the key read from
// stdin (one line; a trailing newline is not part of the key). `args` are the words
// after "auth". Returns the exit code: 0 ok, 2 bad usage or input.
int run_auth_command(const std::vector<std::string>& args);

}  // namespace sluice::app
