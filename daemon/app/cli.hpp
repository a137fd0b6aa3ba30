#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::app {

struct command_line {
    enum class action { run, check_config, version, help };
    action what = action::run;
    std::string config_path;  // --config; default from SLUICE_CONFIG, else /etc/sluice/sluice.yaml
};

// Parses argv (without argv[0]). Returns nullopt and sets `error` on bad usage.
std::optional<command_line> parse_command_line(const std::vector<std::string>& args,
                                               std::string& error);

// The --help text.
const char* usage();

}  // namespace sluice::app
