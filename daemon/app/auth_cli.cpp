#include "app/auth_cli.hpp"

#include <iostream>
#include <iterator>
#include <string>

#include "auth/authenticator.hpp"

namespace sluice::app {
namespace {

constexpr const char* usage =
    "usage: sluice auth new-key      print a new random API key (its config line on stderr)\n"
    "       sluice auth hash-key     print the SHA-256 of the key on stdin, for auth.api_keys\n";

}  // namespace

int run_auth_command(const std::vector<std::string>& args) {
    if (args.size() != 1) {
        std::cerr << usage;
        return 2;
    }
    if (args[0] == "new-key") {
        auto key = auth::new_api_key();
        std::cout << key << "\n";
        std::cerr << "config: auth.api_keys: - {name: <name>, sha256: " << auth::sha256_hex(key)
                  << ", permissions: [...]}\n";
        return 0;
    }
    if (args[0] == "hash-key") {
        std::string key((std::istreambuf_iterator<char>(std::cin)),
                        std::istreambuf_iterator<char>());
        while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
        if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos) {
            std::cerr << "sluice auth hash-key: expected one key on stdin, without spaces\n";
            return 2;
        }
        std::cout << auth::sha256_hex(key) << "\n";
        return 0;
    }
    std::cerr << usage;
    return 2;
}

}  // namespace sluice::app
