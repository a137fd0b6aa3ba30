#include "catalog/schema_catalog.hpp"

#include "schema/schema.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace sluice::catalog;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/sluice-catalog-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { fs::remove_all(path); }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((path / rel).parent_path());
        std::ofstream(path / rel) << text;
    }
};

std::string error_of(const temp_dir& d) {
    try {
        load_catalog(d.path.string());
    } catch (const catalog_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("the example schemas load as types with sorted versions", "[unit][catalog]") {
    auto c = load_catalog(SLUICE_SOURCE_DIR "/schemas");
    REQUIRE(c.types.count("user.created") == 1);
    REQUIRE(c.types.at("user.created").size() == 2);
    CHECK(c.types.at("user.created")[0].version == 1);
    CHECK(c.types.at("user.created")[1].version == 2);
    CHECK(c.types.at("order.placed").size() == 1);
    CHECK(c.version_count() == 3);
}

TEST_CASE("versions sort numerically, not as text", "[unit][catalog]") {
    temp_dir d;
    d.write("t/v10.json", "{}");
    d.write("t/v2.json", "true");
    d.write("t/README.md", "ignored");
    auto c = load_catalog(d.path.string());
    REQUIRE(c.types.at("t").size() == 2);
    CHECK(c.types.at("t")[0].version == 2);
    CHECK(c.types.at("t")[1].version == 10);
}

TEST_CASE("bad schema files are refused with the file and the fix", "[unit][catalog]") {
    struct bad_file {
        const char* path;
        const char* text;
        const char* message;
    };
    for (const auto& bad : {bad_file{"t/v1.json", "{\"type\": ", "t/v1.json: not valid JSON"},
                            bad_file{"t/version1.json", "{}", "named v<N>.json"},
                            bad_file{"t/v01.json", "{}", "named v<N>.json"},
                            bad_file{"t/v1.json", "[1]", "must be an object or a boolean"},
                            bad_file{"bad name/v1.json", "{}", "not a valid event type name"}}) {
        temp_dir d;
        d.write(bad.path, bad.text);
        INFO(bad.path);
        CHECK_THAT(error_of(d), Contains(bad.message));
    }
    CHECK_THROWS_WITH(load_catalog("/nonexistent/schemas"), Contains("does not exist"));
}

TEST_CASE("versions that break their type's compatibility mode are refused with the reason",
          "[unit][catalog]") {
    temp_dir d;
    d.write("user.created/v1.json",
            R"({"type":"object","properties":{"email":{"type":"string"}}})");
    d.write("user.created/v2.json",
            R"({"type":"object","properties":{"email":{"type":"string"}},"required":["email"]})");
    auto message = [&](const std::map<std::string, sluice::registry::type_policy>& policies) {
        try {
            load_catalog(d.path.string(), policies);
        } catch (const catalog_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(
        message({}),
        Contains("user.created/v2.json: v2 breaks backward compatibility with v1: `email` is "
                 "required by v2 but not by v1: events valid under v1 would be rejected"));
    sluice::registry::type_policy none;
    none.mode = sluice::registry::compatibility::none;
    CHECK(message({{"user.created", none}}).empty());
    auto c = load_catalog(d.path.string(), {{"user.created", none}});
    CHECK(c.policies.at("user.created").default_version == 2);  // the latest by default
    sluice::registry::type_policy pinned = none;
    pinned.default_version = 3;
    CHECK_THAT(message({{"user.created", pinned}}), Contains("default_version is 3, but"));
    CHECK_THAT(message({{"order.placed", none}, {"user.created", none}}),
               Contains("types.order.placed in the config has no schemas"));
}

TEST_CASE("every version is compiled at load, a broken contract names its file and pointer",
          "[unit][catalog]") {
    {
        temp_dir d;
        d.write("_shared/address.json",
                R"({"$id":"https://example.test/address.json","required":["city"]})");
        d.write("t/v1.json",
                R"({"properties":{"home":{"$ref":"https://example.test/address.json"}}})");
        auto c = load_catalog(d.path.string());
        REQUIRE(c.types.at("t")[0].validator);
        simdjson::dom::parser p;
        CHECK(c.types.at("t")[0].validator->validate(
            p.parse(std::string(R"({"home":{"city":"x"}})")).value()));
        CHECK_FALSE(
            c.types.at("t")[0].validator->validate(p.parse(std::string(R"({"home":{}})")).value()));
    }
    {
        temp_dir d;
        d.write("t/v1.json", R"({"properties":{"a":{"$ref":"#/$defs/missing"}}})");
        CHECK_THAT(error_of(d),
                   Contains("t/v1.json#/properties/a/$ref: cannot resolve '#/$defs/missing'"));
    }
}
