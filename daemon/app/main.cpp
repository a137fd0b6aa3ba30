#include <csignal>
#include <iostream>

#include "app/auth_cli.hpp"
#include "app/broker.hpp"
#include "app/cli.hpp"
#include "app/schema_cli.hpp"
#include "catalog/schema_catalog.hpp"
#include "config/loader.hpp"
#include "log/logger.hpp"
#include "metrics/registry.hpp"

int main(int argc, char** argv) {
    using namespace sluice;
    std::signal(SIGPIPE, SIG_IGN);

    if (argc >= 2 && std::string_view(argv[1]) == "auth")
        return app::run_auth_command(std::vector<std::string>(argv + 2, argv + argc));
    if (argc >= 2 && std::string_view(argv[1]) == "schema")
        return app::run_schema_command(std::vector<std::string>(argv + 2, argv + argc));

    std::string usage_error;
    auto cli =
        app::parse_command_line(std::vector<std::string>(argv + 1, argv + argc), usage_error);
    if (!cli) {
        std::cerr << "sluice: " << usage_error << "\n" << app::usage();
        return 2;
    }
    switch (cli->what) {
        case app::command_line::action::help:
            std::cout << app::usage();
            return 0;
        case app::command_line::action::version:
            std::cout << "sluice " << metrics::build_info::version() << " ("
                      << metrics::build_info::commit() << ", " << metrics::build_info::compiler()
                      << ")\n";
            return 0;
        default:
            break;
    }

    auto env = config::process_environment();
    config::settings settings;
    try {
        settings = config::load_file(cli->config_path, env);
    } catch (const config::config_error& e) {
        std::cerr << "sluice: " << e.what() << "\n";
        return 2;
    }

    if (cli->what == app::command_line::action::check_config) {
        try {
            auto schemas =
                catalog::load_catalog(settings.schemas.dir, settings.types, settings.type_defaults);
            std::cout << cli->config_path << ": OK (" << schemas.types.size() << " event types, "
                      << schemas.version_count() << " schema versions in " << settings.schemas.dir
                      << ")\n";
            return 0;
        } catch (const catalog::catalog_error& e) {
            std::cerr << "sluice: " << e.what() << "\n";
            return 2;
        }
    }

    log::configure(settings.log.level, settings.log.format);
    app::broker broker(std::move(settings), cli->config_path, env);
    return broker.run();
}
