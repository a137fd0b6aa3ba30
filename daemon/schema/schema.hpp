#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::schema {

enum class draft { draft2020_12, draft7 };

// A schema that cannot be compiled. what() names the document (file) and the JSON
// Pointer of the culprit: "schemas/user.created/v1.json#/properties/id/$ref: ...".
class schema_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One reason an instance is invalid, in the JSON Schema output format's terms.
struct violation {
    std::string instance_location;          // JSON Pointer into the instance
    std::string keyword_location;           // evaluation path, e.g. "/properties/age/minimum"
    std::string absolute_keyword_location;  // e.g. "https://x/user.json#/properties/age/minimum"
    std::string message;                    // e.g. "expected an integer >= 0, got -3"
};

struct compile_options {
    bool assert_formats = true;   // false: `format` is an annotation only (the 2020-12 default)
    std::size_t max_depth = 200;  // nesting of evaluation (refs included) before giving up
};

class validator;

// The documents `$ref` may reach, by URI: a schema and the schemas it refers to.
// Nothing is ever fetched from the network. Not thread-safe while documents are
// added; compile() may be called concurrently afterwards.
class schema_set {
  public:
    schema_set();
    ~schema_set();
    schema_set(const schema_set&) = delete;
    schema_set& operator=(const schema_set&) = delete;

    // Adds one document under its retrieval `uri` (its `$id`, if any, is registered
    // too). `source` names it in messages (a file path). Throws schema_error on bad
    // JSON or an unknown `$schema`.
    void add(const std::string& uri, std::string_view json_text, const std::string& source);

    // Compiles the document at `uri` (and everything it refers to). Throws
    // schema_error for an unresolvable `$ref`, an invalid pattern, or a cycle of
    // in-place references that could never finish.
    std::shared_ptr<const validator> compile(const std::string& uri,
                                             const compile_options& options = {}) const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

// A compiled schema: immutable, safe to share between threads.
class validator {
  public:
    ~validator();

    // True when `instance` is valid. No allocation unless the schema uses
    // unevaluatedProperties / unevaluatedItems.
    bool validate(simdjson::dom::element instance) const;

    // The violations that make `instance` invalid, at most `max` of them; empty when
    // it is valid. Slower than validate(): call it only after validate() said false.
    std::vector<violation> explain(simdjson::dom::element instance, std::size_t max = 20) const;

    struct program;
    explicit validator(std::unique_ptr<program> p);

  private:
    std::unique_ptr<program> program_;
};

}  // namespace sluice::schema
