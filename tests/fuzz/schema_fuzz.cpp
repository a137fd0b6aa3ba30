// The contract engine (schema/schema.hpp): a JSON Schema compiled, then an instance
// evaluated against it the way a publish request is (publish/plan.cpp): evaluate()
// with the request's step budget and the default limits of the config's `schemas`
// section, at most publish.max_violations (20) violations. The input is the schema, a
// NUL byte, then the instance (NUL cannot occur in JSON text, so the split is
// unambiguous). A schema compiles or is refused with a schema_error; an instance is
// valid exactly when no violation is found, each violation says where and why, and
// the budget bounds the work: an input that stalls the target is a finding only
// because the budget failed to stop it. The same instance costs the same steps and
// gets the same answer every time.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "schema/schema.hpp"

using namespace sluice::schema;
using sluice::fuzz::require;

namespace {

constexpr std::size_t max_violations = 20;  // publish.max_violations' default

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nul = in.find('\0');
    std::string_view schema_text = in.substr(0, nul);
    std::string_view instance_text =
        nul == std::string_view::npos ? std::string_view("null") : in.substr(nul + 1);

    std::shared_ptr<const validator> v;
    try {
        schema_set set;
        set.add("https://fuzz.test/root.json", schema_text, "root.json");
        v = set.compile("https://fuzz.test/root.json");
    } catch (const schema_error& e) {
        require(std::string_view(e.what()).find("root.json") != std::string_view::npos,
                "a refused schema names its document");
        return 0;
    }

    static simdjson::dom::parser parser;
    simdjson::dom::element instance;
    if (parser.parse(instance_text.data(), instance_text.size(), true).get(instance)) return 0;

    const evaluation_limits limits;  // the config's defaults, as production runs them
    evaluation_budget steps{limits.max_steps};
    auto verdict = v->evaluate(instance, steps, limits, max_violations);
    std::uint64_t used = limits.max_steps - steps.steps_left;
    require(steps.steps_left <= limits.max_steps, "evaluation draws on the budget, never adds");

    const auto& why = verdict.violations;
    require(verdict.valid == why.empty(), "valid exactly when no violation is found");
    require(why.size() <= max_violations, "violations stop at their cap");
    for (const auto& w : why) {
        require(!w.message.empty(), "a violation says why");
        require(w.instance_location.empty() || w.instance_location[0] == '/',
                "a violation's instance location is a JSON Pointer");
        require(w.code.empty() || w.code == "regex_limit" || w.code == "depth_limit" ||
                    w.code == "evaluation_budget",
                "a violation's code is one of the engine's");
    }
    if (verdict.budget_exhausted)
        require(!verdict.valid && why.size() == 1 && why[0].code == "evaluation_budget",
                "an instance the budget did not decide is one evaluation_budget violation");

    // Steps are deterministic: the same instance, a fresh budget, the same answer.
    evaluation_budget again{limits.max_steps};
    auto second = v->evaluate(instance, again, limits, max_violations);
    require(limits.max_steps - again.steps_left == used, "the same instance costs the same steps");
    require(second.valid == verdict.valid && second.truncated == verdict.truncated &&
                second.budget_exhausted == verdict.budget_exhausted &&
                second.violations.size() == why.size(),
            "the same instance gets the same verdict");
    for (std::size_t i = 0; i < why.size(); ++i)
        require(second.violations[i].message == why[i].message &&
                    second.violations[i].instance_location == why[i].instance_location &&
                    second.violations[i].keyword_location == why[i].keyword_location,
                "the same instance gets the same violations");
    return 0;
}
