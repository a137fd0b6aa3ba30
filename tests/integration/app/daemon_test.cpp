// End-to-end: the real `sluice` binary, a real redis-server, real HTTP.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/broker_process.hpp"
#include "support/child_process.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

using test::broker_config;
using test::start_broker;
using test::wait_for_status;

TEST_CASE("/readyz follows Redis: 200, 503 when it stops, 200 when it returns", "[daemon][redis]") {
    test::redis_server redis;
    broker_config cfg(redis.url());
    auto broker = start_broker(cfg);

    auto ready = wait_for_status(cfg.port, "/readyz", 200, 5s);
    REQUIRE(ready.status == 200);
    CHECK_THAT(ready.body, Contains(R"("redis":"up")"));
    CHECK(test::http_get(cfg.port, "/healthz").status == 200);

    redis.kill();
    auto down = wait_for_status(cfg.port, "/readyz", 503, 5s);
    CHECK(down.status == 503);
    CHECK(down.content_type == "application/problem+json");
    CHECK_THAT(down.body, Contains(R"("code":"not_ready")"));
    CHECK_THAT(down.body, Contains("redis: "));
    CHECK(test::http_get(cfg.port, "/healthz").status == 200);  // alive all the same

    redis.start();
    CHECK(wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);

    auto metrics = test::http_get(cfg.port, "/metrics");
    CHECK(metrics.status == 200);
    CHECK_THAT(metrics.content_type, Contains("text/plain; version=0.0.4"));
    CHECK_THAT(metrics.body, Contains("sluice_redis_up{client=\"main\"} 1"));
    CHECK_THAT(metrics.body, Contains("sluice_redis_reconnects_total{client=\"main\"} 1"));
    CHECK_THAT(metrics.body, Contains("sluice_build_info{"));
    CHECK_THAT(
        metrics.body,
        Contains(R"(sluice_http_requests_total{method="GET",route="/readyz",status="503"})"));
}

TEST_CASE("/metrics is valid Prometheus text exposition", "[daemon][redis]") {
    test::redis_server redis;
    broker_config cfg(redis.url());
    auto broker = start_broker(cfg);
    wait_for_status(cfg.port, "/readyz", 200, 5s);
    auto text = test::http_get(cfg.port, "/metrics").body;
    // Every line is a comment (# HELP / # TYPE) or `name{labels} value`.
    std::istringstream in(text);
    std::string line;
    int samples = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
        INFO(line);
        auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        std::string name = line.substr(0, line.find_first_of("{ "));
        CHECK(name.starts_with("sluice_"));
        CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_:") ==
              std::string::npos);
        std::size_t used = 0;
        CHECK_NOTHROW(std::stod(line.substr(space + 1), &used));
        ++samples;
    }
    CHECK(samples > 10);
}

TEST_CASE("/v1/version names the build", "[daemon][redis]") {
    test::redis_server redis;
    broker_config cfg(redis.url());
    auto broker = start_broker(cfg);
    auto r = test::http_get(cfg.port, "/v1/version");
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Contains(R"("name":"sluice")"));
    CHECK_THAT(r.body, Contains(R"("version":")"));
}

TEST_CASE("SIGTERM drains and exits 0", "[daemon][redis]") {
    test::redis_server redis;
    broker_config cfg(redis.url());
    auto broker = start_broker(cfg);
    test::http_connection idle(cfg.port);
    CHECK(idle.request("GET", "/healthz").status == 200);
    broker->signal(SIGTERM);
    auto code = broker->wait(5s);
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(idle.closed_by_peer(1s));
    CHECK_THAT(broker->output(), Contains("\"msg\":\"draining\""));
    CHECK_THAT(broker->output(), Contains("\"msg\":\"stopped\""));
}

TEST_CASE("SIGHUP reloads a good config and refuses a bad one", "[daemon][redis]") {
    test::redis_server redis;
    broker_config cfg(redis.url());
    auto broker = start_broker(cfg);
    wait_for_status(cfg.port, "/readyz", 200, 5s);

    // A good change: a smaller body limit takes effect without a restart.
    cfg.write(redis.url(), "http:\n  max_body_bytes: 10\n");
    broker->signal(SIGHUP);
    REQUIRE(broker->wait_for_output("\"msg\":\"config reloaded\"", 5s));
    test::http_connection c(cfg.port);
    auto r = c.request("POST", "/healthz", std::string(100, 'x'));
    CHECK(r.status == 413);

    // A bad change is refused, logged with its position, and the old config serves on.
    cfg.write(redis.url(), "http:\n  max_body_bytes: 10\n  bogus_key: 1\n");
    broker->signal(SIGHUP);
    REQUIRE(broker->wait_for_output("config reload refused", 5s));
    CHECK_THAT(broker->output(), Contains("unknown key 'bogus_key' in 'http'"));
    CHECK(test::http_get(cfg.port, "/readyz").status == 200);
    CHECK_THAT(test::http_get(cfg.port, "/metrics").body,
               Contains(R"(sluice_config_reloads_total{result="refused"} 1)"));
    broker->signal(SIGTERM);
    CHECK(broker->wait(5s) == 0);
}

TEST_CASE("a config with a misspelt key stops the start with file:line:column and exit 2",
          "[daemon]") {
    broker_config cfg("redis://127.0.0.1:1", "htp:\n  access_log: true\n");
    test::child_process p({SLUICE_BINARY, "--config", cfg.file.string()});
    CHECK(p.wait(5s) == 2);
    CHECK_THAT(p.output(),
               Contains(cfg.file.string() +
                        ":15:1: unknown key 'htp' at the top level; did you mean 'http'?"));

    test::child_process check({SLUICE_BINARY, "--check-config", "--config", cfg.file.string()});
    CHECK(check.wait(5s) == 2);

    test::child_process missing({SLUICE_BINARY, "--config", "/nonexistent.yaml"});
    CHECK(missing.wait(5s) == 2);
    CHECK_THAT(missing.output(), Contains("/nonexistent.yaml: cannot read the config file"));
}

TEST_CASE("the example config passes --check-config", "[daemon]") {
    test::child_process p(
        {SLUICE_BINARY, "--check-config", "--config", SLUICE_SOURCE_DIR "/config/sluice.yaml"});
    CHECK(p.wait(5s) == 0);
    CHECK_THAT(p.output(), Contains("OK (2 event types, 3 schema versions"));
}

TEST_CASE("a port already in use is a clear start-up failure", "[daemon][redis]") {
    test::redis_server redis;
    // With several I/O threads the acceptors share the port (SO_REUSEPORT), which must
    // not let a second broker join the first.
    for (std::string threads : {"threads: 1\n", "threads: 2\n"}) {
        INFO(threads);
        broker_config cfg(redis.url(), threads);
        auto first = start_broker(cfg);
        test::child_process second({SLUICE_BINARY, "--config", cfg.file.string()});
        CHECK(second.wait(5s) == 1);
        CHECK_THAT(second.output(),
                   Contains("cannot listen on 127.0.0.1:" + std::to_string(cfg.port)));
    }
}
