#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sluice::schema {

struct suite_result {
    std::size_t passed = 0;
    std::size_t failed = 0;
    std::vector<std::string> failures;  // "file: group / test: expected valid, got invalid"
};

// Runs files in the official JSON-Schema-Test-Suite format (a JSON array of
// {description, schema, tests: [{description, data, valid}]}). `paths` are files or
// folders (searched for *.json). With `remotes_dir`, its documents are available to
// `$ref` as http://localhost:1234/<path>. `format` is asserted in files under an
// `optional/format` folder and is an annotation elsewhere, as the suite expects.
// A schema that fails to compile counts each of its tests as failed.
suite_result run_suite(const std::vector<std::string>& paths, const std::string& remotes_dir);

}  // namespace sluice::schema
