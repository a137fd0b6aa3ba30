// reload.watch_interval against the way kubelet updates a ConfigMap volume: every
// file is a symlink through `..data` into a timestamped folder, and an update swaps
// `..data` atomically. The real binary, a real redis-server.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/broker_process.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// A folder laid out as kubelet lays out a ConfigMap volume with keys sluice.yaml and
// schemas/...: `sluice.yaml -> ..data/sluice.yaml`, `schemas -> ..data/schemas`.
struct configmap_volume {
    fs::path root;
    int version = 0;

    configmap_volume() {
        char tmpl[] = "/tmp/sluice-configmap-XXXXXX";
        root = ::mkdtemp(tmpl);
    }
    ~configmap_volume() { fs::remove_all(root); }

    // Publishes a new version: writes it beside the old one, then swaps ..data.
    void update(const std::string& config, bool extra_type) {
        auto dir = "..2026_11_27_10_00_0" + std::to_string(++version);
        fs::create_directories(root / dir);
        std::ofstream(root / dir / "sluice.yaml") << config;
        fs::copy(SLUICE_SOURCE_DIR "/schemas", root / dir / "schemas", fs::copy_options::recursive);
        if (extra_type) {
            fs::create_directories(root / dir / "schemas" / "audit.logged");
            std::ofstream(root / dir / "schemas" / "audit.logged" / "v1.json")
                << R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"})";
        }
        fs::create_directory_symlink(dir, root / "..data_tmp");
        fs::rename(root / "..data_tmp", root / "..data");  // atomic, as kubelet does
        if (!fs::is_symlink(root / "sluice.yaml")) {
            fs::create_symlink("..data/sluice.yaml", root / "sluice.yaml");
            fs::create_directory_symlink("..data/schemas", root / "schemas");
        }
    }
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("a ConfigMap-style update of config and schemas is reloaded without SIGHUP",
          "[daemon][redis]") {
    test::redis_server redis;
    // The config text with a free port; schemas.dir is relative to the volume.
    test::broker_config cfg(redis.url(), "reload:\n  watch_interval: 100ms\n", "schemas");
    auto base = read_file(cfg.file);
    configmap_volume volume;
    volume.update(base, false);
    test::child_process broker({SLUICE_BINARY, "--config", (volume.root / "sluice.yaml").string()});
    REQUIRE(broker.wait_for_output("\"msg\":\"listening\"", 10s));
    auto ready = test::wait_for_status(cfg.port, "/readyz", 200, 5s);
    REQUIRE(ready.status == 200);
    CHECK_THAT(ready.body, Contains(R"("types":2)"));
    std::this_thread::sleep_for(300ms);  // a few watch ticks: nothing changed, no reload
    CHECK(count(broker.output(), "config reloaded") == 0);

    // A smaller body limit and a new event type, in one atomic swap.
    volume.update(base + "http:\n  max_body_bytes: 10\n", true);
    REQUIRE(broker.wait_for_output("\"msg\":\"config reloaded\"", 5s));
    CHECK_THAT(broker.output(), Contains("config or schema files changed; reloading"));
    CHECK_THAT(test::http_get(cfg.port, "/readyz").body, Contains(R"("types":3)"));
    test::http_connection c(cfg.port);
    CHECK(c.request("POST", "/healthz", std::string(100, 'x')).status == 413);

    // A bad update is refused once (not retried every tick) and the old config serves.
    volume.update(base + "http:\n  bogus_key: 1\n", true);
    REQUIRE(broker.wait_for_output("config reload refused", 5s));
    std::this_thread::sleep_for(500ms);
    CHECK(count(broker.output(), "config reload refused") == 1);
    CHECK(count(broker.output(), "config or schema files changed") == 2);
    CHECK(test::http_get(cfg.port, "/readyz").status == 200);

    broker.signal(SIGTERM);
    CHECK(broker.wait(5s) == 0);
}
