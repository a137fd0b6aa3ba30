// Events built to hold the contract engine: a pattern that backtracks without end,
// property names chosen to make patternProperties do the same, and a uniqueItems
// array of 60,000 numbers. Published in a loop from a second thread at a broker
// with one I/O thread, the thread that also answers /healthz: every publish gets
// its 422 and every /healthz answers within 50 ms.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "integration/abuse/abuse.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

// A schemas folder with one type, `abuse.redos`, whose contract has the three traps.
struct redos_schemas {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("sluice-redos-schemas-" + std::to_string(::getpid()));
    redos_schemas() {
        std::filesystem::create_directories(dir / "abuse.redos");
        std::ofstream(dir / "abuse.redos" / "v1.json") << R"({
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": "^(a+)+$"},
                "labels": {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}},
                "samples": {"type": "array", "uniqueItems": true}
            }
        })";
    }
    ~redos_schemas() { std::filesystem::remove_all(dir); }
};

struct bad_event {
    const char* what;
    std::string body;
    std::string code;      // of the problem
    std::string contains;  // in the answer
};

std::string envelope(const std::string& data) {
    return R"({"type":"abuse.redos","data":)" + data + "}";
}

std::vector<bad_event> worst_events() {
    std::vector<bad_event> out;
    // 35 KB of 'a' and a '!': a backtracking matcher tries every split of the a's.
    out.push_back({"pattern", envelope(R"({"name":")" + std::string(35'000, 'a') + R"(!"})"),
                   "schema_violation", R"("code":"regex_limit")"});
    // About 1.9 KB of property names, each one such subject.
    std::string labels = "{";
    for (int i = 0; i < 60; ++i)
        labels += (i ? "," : "") + std::string("\"") + std::string(std::size_t(20 + i % 20), 'a') +
                  std::string(std::size_t(i / 20 + 1), '!') + "\":1";
    labels += "}";
    out.push_back({"patternProperties", envelope(R"({"labels":)" + labels + "}"),
                   "schema_violation", R"("code":"regex_limit")"});
    // 60,000 distinct numbers and one repeat at the end.
    std::string samples = "[";
    for (int i = 0; i < 60'000; ++i) samples += (i ? "," : "") + std::to_string(i) + ".25";
    samples += ",0.25]";
    out.push_back({"uniqueItems", envelope(R"({"samples":)" + samples + "}"), "schema_violation",
                   "items 0 and 60000 are equal"});
    return out;
}

}  // namespace

TEST_CASE("abuse: ReDoS and quadratic contracts get 422 while /healthz stays fast",
          "[abuse][redis]") {
    redos_schemas schemas;
    test::redis_server redis;
    test::broker_config cfg(redis.url(), "threads: 1\n", schemas.dir.string());
    auto broker = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);

    const auto events = worst_events();
    std::atomic<bool> stop{false};
    std::mutex failures_mutex;
    std::vector<std::string> failures;  // publishes that did not get their 422
    std::vector<double> publish_ms[3];
    std::thread publisher([&] {
        try {
            test::http_connection c(cfg.port, 10s);
            while (!stop) {
                for (std::size_t i = 0; i < events.size() && !stop; ++i) {
                    auto started = std::chrono::steady_clock::now();
                    auto r = c.request("POST", "/v1/events", events[i].body,
                                       "Content-Type: application/json\r\n");
                    publish_ms[i].push_back(std::chrono::duration<double, std::milli>(
                                                std::chrono::steady_clock::now() - started)
                                                .count());
                    bool right =
                        r.status == 422 &&
                        r.body.find(R"("code":")" + events[i].code + '"') != std::string::npos &&
                        r.body.find(events[i].contains) != std::string::npos;
                    if (!right) {
                        std::lock_guard lock(failures_mutex);
                        failures.push_back(std::string(events[i].what) + ": " +
                                           std::to_string(r.status) + " " + r.body.substr(0, 300));
                    }
                }
            }
        } catch (const std::exception& e) {  // no answer within 10 s: the thread is held
            std::lock_guard lock(failures_mutex);
            failures.push_back(std::string("publish: ") + e.what());
        }
    });

    // /healthz on a new connection every 10 ms; one that gets no answer within 2 s
    // counts as 2 s and ends the probing (the thread is held).
    std::vector<double> healthz;
    auto until = std::chrono::steady_clock::now() + 4s;
    while (std::chrono::steady_clock::now() < until) {
        auto started = std::chrono::steady_clock::now();
        unsigned status = 0;
        try {
            test::http_connection c(cfg.port, 2s);
            status = c.request("GET", "/healthz").status;
        } catch (const std::exception&) {
            healthz.push_back(2000);
            break;
        }
        CHECK(status == 200);
        healthz.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count());
        std::this_thread::sleep_for(10ms);
    }
    stop = true;
    publisher.join();

    double worst = *std::max_element(healthz.begin(), healthz.end());
    std::printf("redos: %zu /healthz, max %.1f ms", healthz.size(), worst);
    for (std::size_t i = 0; i < events.size(); ++i) {
        double sum = 0, max = 0;
        for (double t : publish_ms[i]) sum += t, max = std::max(max, t);
        std::printf("; %s: %zu publishes, mean %.1f ms, max %.1f ms", events[i].what,
                    publish_ms[i].size(),
                    sum / double(std::max<std::size_t>(publish_ms[i].size(), 1)), max);
    }
    std::printf("\n");
    for (const auto& f : failures) FAIL_CHECK(f);
    for (const auto& times : publish_ms) CHECK_FALSE(times.empty());
    CHECK(worst < 50);
    CHECK_FALSE(broker->wait(0ms));  // still running
}
