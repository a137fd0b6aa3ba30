#include "support/broker_process.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "support/free_port.hpp"

namespace sluice::test {

broker_config::broker_config(const std::string& redis_url, const std::string& extra,
                             std::string schemas)
    : port(free_port()), schemas_dir(std::move(schemas)) {
    char tmpl[] = "/tmp/sluice-daemon-XXXXXX";
    dir = ::mkdtemp(tmpl);
    file = dir / "sluice.yaml";
    write(redis_url, extra);
}

broker_config::~broker_config() {
    std::filesystem::remove_all(dir);
}

void broker_config::write(const std::string& redis_url, const std::string& extra) const {
    std::ofstream out(file);
    // A test that brings its own listen section (TLS alone) keeps it.
    if (!extra.starts_with("listen:") && extra.find("\nlisten:") == std::string::npos)
        out << "listen:\n  address: 127.0.0.1\n  port: " << port << "\n";
    out << "redis:\n  url: " << redis_url
        << "\n  health_check_interval: 100ms\n  dead_after: 500ms\n  reconnect_min: 50ms\n"
           "  reconnect_max: 200ms\nschemas:\n  dir: "
        << schemas_dir << "\n";
    // Tests stop at once unless they set their own shutdown section.
    if (extra.find("shutdown:") == std::string::npos)
        out << "shutdown:\n  drain_delay: 0ms\n  grace_period: 2s\n";
    out << extra;
    // `make tsan` sets SLUICE_TEST_THREADS=2 so that every broker runs two I/O threads
    // beside its control thread, and ThreadSanitizer sees them share state. A test that
    // sets `threads` itself keeps its own. Written last, so the lines tests point at in
    // error messages stay where they are.
    const char* threads = std::getenv("SLUICE_TEST_THREADS");
    bool own_threads =
        extra.starts_with("threads:") || extra.find("\nthreads:") != std::string::npos;
    if (threads && *threads && !own_threads) {
        if (!extra.empty() && extra.back() != '\n') out << '\n';
        out << "threads: " << threads << "\n";
    }
}

std::unique_ptr<child_process> start_broker(const broker_config& c) {
    auto p = std::make_unique<child_process>(
        std::vector<std::string>{SLUICE_BINARY, "--config", c.file.string()});
    REQUIRE(p->wait_for_output("\"msg\":\"listening\"", std::chrono::seconds(10)));
    return p;
}

http_reply wait_for_status(std::uint16_t port, const std::string& path, unsigned status,
                           std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    http_reply r;
    do {
        try {
            r = http_get(port, path);
            if (r.status == status) return r;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
}

}  // namespace sluice::test
