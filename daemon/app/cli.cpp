#include "app/cli.hpp"

#include <cstdlib>

namespace sluice::app {

const char* usage() {
    return "usage: sluice [--config FILE]           run the broker\n"
           "       sluice --check-config [--config FILE]\n"
           "                                         validate the config and schemas, then exit\n"
           "       sluice schema validate SCHEMA INSTANCE... [--loop N]\n"
           "       sluice schema test FILE_OR_DIR... [--remotes DIR]\n"
           "                                         check contracts (see `sluice schema`)\n"
           "       sluice auth new-key | hash-key    make an API key, or hash one from stdin\n"
           "       sluice --version | --help\n"
           "\n"
           "FILE defaults to $SLUICE_CONFIG, else /etc/sluice/sluice.yaml.\n"
           "Environment overrides: SLUICE_LISTEN (host:port), SLUICE_REDIS_URL, SLUICE_LOG_LEVEL,\n"
           "SLUICE_LOG_FORMAT (json|text), SLUICE_SCHEMAS_DIR.\n"
           "Exit codes: 0 ok, 1 runtime failure (e.g. port in use), 2 bad usage, config or "
           "schemas.\n";
}

std::optional<command_line> parse_command_line(const std::vector<std::string>& args,
                                               std::string& error) {
    command_line out;
    if (const char* env = std::getenv("SLUICE_CONFIG")) out.config_path = env;
    if (out.config_path.empty()) out.config_path = "/etc/sluice/sluice.yaml";
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--config" || a == "-c") {
            if (i + 1 >= args.size()) {
                error = a + " needs a file name";
                return std::nullopt;
            }
            out.config_path = args[++i];
        } else if (a.starts_with("--config=")) {
            out.config_path = a.substr(9);
        } else if (a == "--check-config") {
            out.what = command_line::action::check_config;
        } else if (a == "--version") {
            out.what = command_line::action::version;
        } else if (a == "--help" || a == "-h") {
            out.what = command_line::action::help;
        } else {
            error = "unknown argument '" + a + "'";
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace sluice::app
