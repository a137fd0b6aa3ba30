// The YAML config loader (config/loader.hpp) from a string, with no environment.
// A config is either loaded or refused with a config_error naming where and why;
// any other exception escaping parse() (from yaml-cpp or a conversion) would reach
// main() as a crash instead of an operator's message, so the fuzzer reports it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "fuzz_check.hpp"

using namespace sluice::config;
using sluice::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    static const env_lookup no_env = [](std::string_view) -> std::optional<std::string> {
        return std::nullopt;
    };
    try {
        settings s = parse(text, "fuzz.yaml", "/etc/sluice", no_env);
        require(s.threads >= 1, "a loaded config has at least one I/O thread");
    } catch (const config_error& e) {
        require(std::string_view(e.what()).starts_with("fuzz.yaml"),
                "a refusal names the file it is about");
    }
    return 0;
}
