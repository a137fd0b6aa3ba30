#include "schema/suite_runner.hpp"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "schema/schema.hpp"

namespace sluice::schema {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct remote {
    std::string uri;
    std::string text;
    std::string source;
};

// Documents for draft 2020-12 runs: the remotes' top level and every folder but
// those written for other drafts (their $schema is one Sluice does not speak).
std::vector<remote> load_remotes(const std::string& dir) {
    std::vector<remote> out;
    if (dir.empty()) return out;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
        auto rel = fs::relative(entry.path(), dir).generic_string();
        auto top = rel.substr(0, rel.find('/'));
        if (rel.find('/') != std::string::npos && top.starts_with("draft") && top != "draft2020-12")
            continue;
        if (top == "v1") continue;
        out.push_back(
            {"http://localhost:1234/" + rel, read_file(entry.path()), entry.path().string()});
    }
    return out;
}

void run_file(const fs::path& file, const std::vector<remote>& remotes, suite_result& result) {
    bool assert_formats = file.generic_string().find("/optional/format/") != std::string::npos;
    simdjson::dom::parser parser;
    simdjson::padded_string text(read_file(file));
    simdjson::dom::element groups;
    if (parser.parse(text).get(groups) || !groups.is_array()) {
        ++result.failed;
        result.failures.push_back(file.string() + ": not a test-suite file");
        return;
    }
    for (auto group : simdjson::dom::array(groups)) {
        std::string_view group_name = group["description"];
        simdjson::dom::array tests = group["tests"];
        std::shared_ptr<const validator> v;
        std::string compile_error;
        try {
            schema_set set;
            for (const auto& r : remotes) {
                try {
                    set.add(r.uri, r.text, r.source);
                } catch (const schema_error&) {
                    // A remote this draft cannot read is simply not available.
                }
            }
            set.add("urn:sluice:suite:schema", simdjson::minify(group["schema"]), file.string());
            compile_options options;
            options.assert_formats = assert_formats;
            v = set.compile("urn:sluice:suite:schema", options);
        } catch (const schema_error& e) {
            compile_error = e.what();
        }
        for (auto test : tests) {
            std::string_view test_name = test["description"];
            bool expected = test["valid"];
            bool got = v && v->validate(test["data"]);
            if (v && got == expected) {
                ++result.passed;
                continue;
            }
            ++result.failed;
            std::string why = v ? (std::string("expected ") + (expected ? "valid" : "invalid") +
                                   ", got " + (got ? "valid" : "invalid"))
                                : "schema refused: " + compile_error;
            result.failures.push_back(file.filename().string() + ": " + std::string(group_name) +
                                      " / " + std::string(test_name) + ": " + why);
        }
    }
}

}  // namespace

suite_result run_suite(const std::vector<std::string>& paths, const std::string& remotes_dir) {
    suite_result result;
    auto remotes = load_remotes(remotes_dir);
    std::vector<fs::path> files;
    for (const auto& p : paths) {
        if (fs::is_directory(p)) {
            for (const auto& entry : fs::recursive_directory_iterator(p))
                if (entry.is_regular_file() && entry.path().extension() == ".json")
                    files.push_back(entry.path());
        } else {
            files.emplace_back(p);
        }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) run_file(f, remotes, result);
    return result;
}

}  // namespace sluice::schema
