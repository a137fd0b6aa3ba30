#include "app/config_watch.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using sluice::app::files_fingerprint;
namespace fs = std::filesystem;

TEST_CASE("the files fingerprint changes with any file a reload reads, and only then", "[unit]") {
    char tmpl[] = "/tmp/sluice-watch-XXXXXX";
    fs::path dir = ::mkdtemp(tmpl);
    auto config = (dir / "sluice.yaml").string();
    auto schemas = dir / "schemas";
    fs::create_directories(schemas / "a.b");
    std::ofstream(config) << "threads: 1\n";
    std::ofstream(schemas / "a.b" / "v1.json") << "{}";

    auto first = files_fingerprint(config, schemas.string());
    CHECK(files_fingerprint(config, schemas.string()) == first);

    std::ofstream(schemas / "a.b" / "v2.json") << "{}";  // a new version
    auto second = files_fingerprint(config, schemas.string());
    CHECK(second != first);

    std::ofstream(schemas / "a.b" / "v1.json") << "{\"type\":\"object\"}";  // an edit
    auto third = files_fingerprint(config, schemas.string());
    CHECK(third != second);

    fs::remove(config);  // missing is a state, not an error
    auto fourth = files_fingerprint(config, schemas.string());
    CHECK(fourth != third);
    CHECK(fourth.find("missing") != std::string::npos);
    CHECK(files_fingerprint(config, (dir / "nope").string()) != fourth);
    fs::remove_all(dir);
}
