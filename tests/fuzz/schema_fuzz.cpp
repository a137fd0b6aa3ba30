// The contract engine (schema/schema.hpp): a JSON Schema compiled, then an instance
// evaluated against it. The input is the schema, a NUL byte, then the instance (NUL
// cannot occur in JSON text, so the split is unambiguous). A schema compiles or is
// refused with a schema_error; an instance is valid exactly when explain() finds no
// violation, and each violation says where and why.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "schema/schema.hpp"

using namespace sluice::schema;
using sluice::fuzz::require;

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
    bool valid = v->validate(instance);
    auto why = v->explain(instance);
    require(valid == why.empty(), "validate() and explain() agree");
    require(why.size() <= 20, "explain() stops at its cap");
    for (const auto& w : why) {
        require(!w.message.empty(), "a violation says why");
        require(w.instance_location.empty() || w.instance_location[0] == '/',
                "a violation's instance location is a JSON Pointer");
    }
    return 0;
}
