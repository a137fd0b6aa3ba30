#include "app/schema_cli.hpp"

#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "schema/schema.hpp"
#include "schema/suite_runner.hpp"

namespace sluice::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* schema_usage =
    "usage: sluice schema validate SCHEMA INSTANCE... [--loop N] [--formats off]\n"
    "       sluice schema test FILE_OR_DIR... [--remotes DIR]\n"
    "validate: PASS or FAIL per instance with its violations; --loop N also prints the mean\n"
    "  time per validation (parse excluded) and per parse + validate, in nanoseconds.\n"
    "  Every *.json next to SCHEMA (and below) is available to $ref by its $id.\n"
    "  --formats off makes `format` an annotation (asserted by default, as the broker does).\n"
    "test: runs JSON-Schema-Test-Suite files; --remotes maps http://localhost:1234/ to DIR.\n";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot read the file");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string file_uri(const fs::path& p) {
    return "file://" + fs::absolute(p).lexically_normal().generic_string();
}

int run_test(const std::vector<std::string>& args) {
    std::vector<std::string> paths;
    std::string remotes;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--remotes" && i + 1 < args.size())
            remotes = args[++i];
        else
            paths.push_back(args[i]);
    }
    if (paths.empty()) {
        std::cerr << schema_usage;
        return 2;
    }
    auto result = schema::run_suite(paths, remotes);
    for (const auto& f : result.failures) std::cout << "FAIL " << f << "\n";
    std::cout << result.passed << " passed, " << result.failed << " failed\n";
    return result.failed == 0 ? 0 : 1;
}

int run_validate(const std::vector<std::string>& args) {
    std::vector<std::string> files;
    long loops = 0;
    schema::compile_options options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--loop" && i + 1 < args.size())
            loops = std::stol(args[++i]);
        else if (args[i] == "--formats" && i + 1 < args.size())
            options.assert_formats = args[++i] != "off";
        else
            files.push_back(args[i]);
    }
    if (files.size() < 2) {
        std::cerr << schema_usage;
        return 2;
    }
    std::shared_ptr<const schema::validator> v;
    try {
        schema::schema_set set;
        fs::path schema_path = files[0];
        set.add(file_uri(schema_path), read_file(schema_path.string()), schema_path.string());
        // Neighbours are available to $ref by their $id.
        auto dir = schema_path.parent_path().empty() ? fs::path(".") : schema_path.parent_path();
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
            if (fs::equivalent(entry.path(), schema_path)) continue;
            try {
                set.add(file_uri(entry.path()), read_file(entry.path().string()),
                        entry.path().string());
            } catch (const schema::schema_error&) {
                // Not a schema (an instance, say): not available to $ref, which is fine.
            }
        }
        v = set.compile(file_uri(schema_path), options);
    } catch (const std::exception& e) {
        std::cerr << "sluice: " << e.what() << "\n";
        return 2;
    }
    int failures = 0;
    simdjson::dom::parser parser;
    for (std::size_t i = 1; i < files.size(); ++i) {
        simdjson::padded_string text;
        if (simdjson::padded_string::load(files[i]).get(text)) {
            std::cerr << "sluice: " << files[i] << ": cannot read the file\n";
            return 2;
        }
        simdjson::dom::element doc;
        if (auto error = parser.parse(text).get(doc)) {
            std::cout << "FAIL " << files[i]
                      << "\n  not valid JSON: " << simdjson::error_message(error) << "\n";
            ++failures;
            continue;
        }
        // As the broker checks an event: default limits, one request's step budget.
        schema::evaluation_budget steps{schema::evaluation_limits{}.max_steps};
        auto verdict = v->evaluate(doc, steps);
        std::cout << (verdict.valid ? "PASS " : "FAIL ") << files[i] << "\n";
        if (!verdict.valid) {
            ++failures;
            for (const auto& violation : verdict.violations)
                std::cout << "  "
                          << (violation.instance_location.empty() ? "/"
                                                                  : violation.instance_location)
                          << ": " << violation.message
                          << (violation.code.empty() ? ""
                                                     : " [" + std::string(violation.code) + "]")
                          << "\n    at " << violation.keyword_location << " ("
                          << violation.absolute_keyword_location << ")\n";
            if (verdict.truncated) std::cout << "  (and more)\n";
        }
        if (loops > 0) {
            using clock = std::chrono::steady_clock;
            std::size_t sink = 0;
            auto t0 = clock::now();
            // The first pass alone, the one every event pays (as Blaze's fast mode).
            for (long n = 0; n < loops; ++n) sink += v->validate(doc);
            auto t1 = clock::now();
            for (long n = 0; n < loops; ++n) {
                simdjson::dom::element d;
                if (!parser.parse(text).get(d)) sink += v->validate(d);
            }
            auto t2 = clock::now();
            auto ns = [&](auto d) {
                return std::chrono::duration<double, std::nano>(d).count() / double(loops);
            };
            std::cout << "  validate: " << static_cast<long>(ns(t1 - t0))
                      << " ns/op, parse+validate: " << static_cast<long>(ns(t2 - t1)) << " ns/op ("
                      << loops << " loops" << (sink ? "" : " ") << ")\n";
        }
    }
    return failures == 0 ? 0 : 1;
}

}  // namespace

int run_schema_command(const std::vector<std::string>& args) {
    if (args.empty()) {
        std::cerr << schema_usage;
        return 2;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "test") return run_test(rest);
    if (args[0] == "validate") return run_validate(rest);
    std::cerr << "sluice: unknown schema command '" << args[0] << "'\n" << schema_usage;
    return 2;
}

}  // namespace sluice::app
