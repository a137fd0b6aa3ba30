#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <limits>
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
    // Empty for a keyword the value breaks; a stable code when the engine gave up
    // rather than decided: "regex_limit" (a pattern ran out of its match or depth
    // limit on this value), "depth_limit" (evaluation nested deeper than max_depth),
    // "evaluation_budget" (the request's steps ran out here). Points to a literal.
    std::string_view code;
};

// Bounds on the work one evaluation may do, so one value cannot hold a thread (the
// config's `schemas` section). Every limit reached is a violation with a code.
struct evaluation_limits {
    std::uint32_t regex_match_limit = 100'000;  // PCRE2 match limit per search
    std::uint32_t regex_depth_limit = 10'000;   // PCRE2 depth limit per search (interpreter)
    std::uint64_t max_steps = 1'000'000;        // steps per request; see evaluation_budget
};

// The evaluation steps left to one request: every event of a batch draws on the same
// budget. A step is one schema applied to one value, one item of a uniqueItems check,
// or about four units of a regex's match limit (see regex::search). Deterministic:
// the same request costs the same steps on any machine. Not thread-safe; one per
// request.
struct evaluation_budget {
    std::uint64_t steps_left = std::numeric_limits<std::uint64_t>::max();
};

// What evaluate() found.
struct evaluation_result {
    bool valid = true;
    std::vector<violation> violations;  // at most the cap; empty when valid
    bool truncated = false;             // there were more violations than the cap
    bool budget_exhausted = false;      // the last violation is the "evaluation_budget" one
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

    // Checks `instance`, drawing on `budget`. A valid instance costs one pass that
    // builds nothing (no allocation unless the schema uses unevaluatedProperties /
    // unevaluatedItems). An invalid one is then walked again, once, to collect its
    // violations; that walk stops as soon as it has found `max_violations` + 1 (the one
    // past the cap only sets `truncated`), and it reuses what the first pass learnt
    // of a regex that gave up, so a failing search is never run twice. Never throws
    // on any instance.
    evaluation_result evaluate(simdjson::dom::element instance, evaluation_budget& budget,
                               const evaluation_limits& limits = {},
                               std::size_t max_violations = 20) const;

    // True when `instance` is valid under the default limits, with no step budget.
    bool validate(simdjson::dom::element instance) const;

    // The violations that make `instance` invalid, at most `max` of them; empty when
    // it is valid. Default limits, no step budget.
    std::vector<violation> explain(simdjson::dom::element instance, std::size_t max = 20) const;

    struct program;
    explicit validator(std::unique_ptr<program> p);

  private:
    std::unique_ptr<program> program_;
};

}  // namespace sluice::schema
