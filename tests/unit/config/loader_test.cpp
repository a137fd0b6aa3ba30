#include "config/loader.hpp"

#include <catch2/catch.hpp>
#include <map>

using namespace sluice::config;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

env_lookup no_env() {
    return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// The config_error message for `yaml`, or "" if it parsed.
std::string error_of(const std::string& yaml, const env_lookup& env = no_env()) {
    try {
        parse(yaml, "test.yaml", "/etc/sluice", env);
    } catch (const config_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("the example config loads with the documented values", "[unit][config]") {
    auto s = load_file(SLUICE_SOURCE_DIR "/config/sluice.yaml", no_env());
    CHECK(s.listen.address == "127.0.0.1");
    CHECK(s.listen.port == 8080);
    CHECK(s.threads == 1);
    CHECK(s.redis.endpoint.kind == redis_endpoint::transport::tcp);
    CHECK(s.redis.endpoint.port == 6379);
    CHECK(s.http.max_body_bytes == 1024 * 1024);
    CHECK(s.http.max_header_bytes == 16 * 1024);
    CHECK(s.http.idle_timeout == std::chrono::seconds(60));
    CHECK(s.log.format == sluice::log::format::json);
    CHECK(s.schemas.dir == SLUICE_SOURCE_DIR "/schemas");
    CHECK(s.shutdown.grace_period == std::chrono::seconds(10));
    CHECK(s.shutdown.drain_delay == std::chrono::seconds(5));
}

TEST_CASE("an empty config means every default", "[unit][config]") {
    auto s = parse("", "empty.yaml", "/etc/sluice", no_env());
    settings defaults;
    CHECK(s.listen.port == defaults.listen.port);
    CHECK(s.redis.url == defaults.redis.url);
    CHECK(s.schemas.dir == "/etc/sluice/schemas");
}

TEST_CASE("a misspelt key names the file, line, column and the likely fix", "[unit][config]") {
    auto msg = error_of("listen:\n  address: 0.0.0.0\n  prot: 8080\n");
    CHECK_THAT(msg, StartsWith("test.yaml:3:3: unknown key 'prot' in 'listen'"));
    CHECK_THAT(msg, Contains("did you mean 'port'?"));
    CHECK_THAT(msg, Contains("expected one of enabled, address, port"));

    CHECK_THAT(error_of("lisen:\n  port: 1\n"),
               StartsWith("test.yaml:1:1: unknown key 'lisen' at the top level"));
}

TEST_CASE("wrong types are refused with what was expected", "[unit][config]") {
    CHECK_THAT(error_of("listen:\n  port: eighty\n"),
               StartsWith("test.yaml:2:9: 'listen.port' must be an integer, got 'eighty'; expected "
                          "an integer from 0 to 65535"));
    CHECK_THAT(error_of("http: 5\n"), StartsWith("test.yaml:1:7: 'http' must be a mapping"));
    CHECK_THAT(error_of("http:\n  access_log: yes\n"),
               StartsWith("test.yaml:2:15: 'http.access_log' must be a boolean, got 'yes'; "
                          "expected true or false"));
    CHECK_THAT(error_of("log:\n  format: xml\n"),
               StartsWith("test.yaml:2:11: 'log.format' has an unknown value: 'xml'; expected one "
                          "of json, text"));
    CHECK_THAT(error_of("threads: [1, 2]\n"), Contains("'threads' must be an integer, got a list"));
    CHECK_THAT(
        error_of("http:\n  idle_timeout: 60\n"),
        Contains(
            "'http.idle_timeout' is not a duration: '60'; expected a duration from 1ms to 24h"));
    CHECK_THAT(error_of("http:\n  max_body_bytes: lots\n"),
               Contains("'http.max_body_bytes' is not a size: 'lots'"));
}

TEST_CASE("out-of-range values are refused with the allowed range", "[unit][config]") {
    CHECK_THAT(error_of("listen:\n  port: 70000\n"),
               StartsWith("test.yaml:2:9: 'listen.port' is out of range: 70000; expected an "
                          "integer from 0 to 65535"));
    CHECK_THAT(error_of("threads: 0\n"), Contains("expected an integer from 1 to 256"));
    CHECK_THAT(error_of("http:\n  max_header_bytes: 10\n"),
               Contains("'http.max_header_bytes' is out of range: 10"));
    CHECK_THAT(error_of("shutdown:\n  grace_period: 2h\n"),
               Contains("expected a duration from 0ms to 1h"));
    CHECK_THAT(error_of("shutdown:\n  drain_delay: 11m\n"),
               Contains("'shutdown.drain_delay' is out of range"));
    CHECK_THAT(error_of("redis:\n  health_check_interval: 5s\n  dead_after: 2s\n"),
               Contains("'redis.dead_after' must be longer than 'redis.health_check_interval'"));
    CHECK_THAT(error_of("redis:\n  tls:\n    cert_file: c.pem\n"),
               Contains("needs both 'cert_file' and 'key_file'"));
    CHECK_THAT(error_of("metrics:\n  group_stats_interval: 10ms\n"),
               Contains("'metrics.group_stats_interval' is out of range"));
    CHECK(parse("metrics:\n  group_stats_interval: 250ms\n", "t.yaml", "/", no_env())
              .metrics.group_stats_interval == std::chrono::milliseconds(250));
}

TEST_CASE("duplicate keys and broken YAML are refused with their position", "[unit][config]") {
    CHECK_THAT(error_of("listen:\n  port: 1\n  port: 2\n"),
               StartsWith("test.yaml:3:3: duplicate key 'port' in 'listen'"));
    auto msg = error_of("listen:\n  port: [1, 2\n");
    CHECK_THAT(msg, StartsWith("test.yaml:"));
    CHECK_THAT(msg, Contains("not valid YAML"));
}

TEST_CASE("an unreadable config file is refused with its path", "[unit][config]") {
    try {
        load_file("/nonexistent/sluice.yaml", no_env());
        FAIL("expected a config_error");
    } catch (const config_error& e) {
        CHECK_THAT(e.what(), StartsWith("/nonexistent/sluice.yaml: cannot read the config file"));
    }
}

TEST_CASE("redis URL, credentials and TLS settings are read", "[unit][config]") {
    auto s = parse(
        "redis:\n  url: rediss://app:s3cret@redis.internal:6380/2\n  tls:\n    ca_file: ca.pem\n",
        "t.yaml", "/etc/sluice", no_env());
    CHECK(s.redis.endpoint.kind == redis_endpoint::transport::tls);
    CHECK(s.redis.endpoint.host == "redis.internal");
    CHECK(s.redis.endpoint.port == 6380);
    CHECK(s.redis.endpoint.username == "app");
    CHECK(s.redis.endpoint.password == "s3cret");
    CHECK(s.redis.endpoint.db == 2);
    CHECK(s.redis.tls.ca_file == "/etc/sluice/ca.pem");

    auto explicit_keys =
        parse("redis:\n  url: redis://u:p@h\n  username: other\n  password: pw\n  db: 5\n",
              "t.yaml", "", no_env());
    CHECK(explicit_keys.redis.endpoint.username == "other");
    CHECK(explicit_keys.redis.endpoint.password == "pw");
    CHECK(explicit_keys.redis.endpoint.db == 5);

    CHECK_THAT(error_of("redis:\n  url: http://x\n"),
               StartsWith("test.yaml:2:8: 'redis.url' is not a Redis URL: unsupported scheme"));
}

TEST_CASE("Redis queue caps and waits are read", "[unit][config]") {
    auto s = parse(
        "redis:\n  wait_when_disconnected: 2s\n  max_pending_requests: 10\n  max_pending_bytes: "
        "1MiB\n"
        "  max_reply_bytes: 2MiB\n",
        "t.yaml", "", no_env());
    CHECK(s.redis.wait_when_disconnected == std::chrono::seconds(2));
    CHECK(s.redis.max_pending_requests == 10);
    CHECK(s.redis.max_pending_bytes == 1024 * 1024);
    CHECK(s.redis.max_reply_bytes == 2 * 1024 * 1024);
    CHECK_THAT(error_of("redis:\n  max_pending_requests: 0\n"),
               Contains("'redis.max_pending_requests' is out of range: 0"));
    CHECK_THAT(error_of("redis:\n  wait_when_disconnected: 5m\n"),
               Contains("expected a duration from 0ms to 1m"));
}

TEST_CASE("event types get their policy, or the defaults", "[unit][config]") {
    auto s = parse(
        "type_defaults:\n  compatibility: full\n  retention:\n    max_age: 7d\n"
        "types:\n  user.created:\n    default_version: 2\n    compatibility: backward_transitive\n"
        "    retention:\n      max_length: 1000\n  order.placed:\n",
        "t.yaml", "", no_env());
    CHECK(s.type_defaults.mode == sluice::registry::compatibility::full);
    const auto& u = s.types.at("user.created");
    CHECK(u.default_version == 2);
    CHECK(u.mode == sluice::registry::compatibility::backward_transitive);
    CHECK(u.max_length == 1000);
    CHECK(u.max_age == std::chrono::hours(168));  // from type_defaults
    CHECK(s.types.at("order.placed").mode == sluice::registry::compatibility::full);
    CHECK_THAT(
        error_of("types:\n  a:\n    compatibility: sideways\n"),
        StartsWith("test.yaml:3:20: 'types.a.compatibility' has an unknown value: 'sideways'"));
    CHECK_THAT(
        error_of("types:\n  a:\n    retention:\n      max_lenght: 5\n"),
        Contains("unknown key 'max_lenght' in 'types.a.retention'; did you mean 'max_length'?"));
    CHECK_THAT(error_of("publish:\n  max_batch: 0\n"),
               Contains("'publish.max_batch' is out of range"));
}

TEST_CASE("environment variables override the file", "[unit][config]") {
    auto s = parse("listen:\n  port: 1\n", "t.yaml", "",
                   env_of({{"SLUICE_LISTEN", "[::1]:9090"},
                           {"SLUICE_REDIS_URL", "unix:///run/redis.sock?db=3"},
                           {"SLUICE_LOG_LEVEL", "debug"},
                           {"SLUICE_LOG_FORMAT", "text"}}));
    CHECK(s.listen.address == "::1");
    CHECK(s.listen.port == 9090);
    CHECK(s.redis.endpoint.kind == redis_endpoint::transport::unix_socket);
    CHECK(s.redis.endpoint.path == "/run/redis.sock");
    CHECK(s.redis.endpoint.db == 3);
    CHECK(s.log.level == sluice::log::level::debug);
    CHECK(s.log.format == sluice::log::format::text);

    CHECK_THAT(error_of("", env_of({{"SLUICE_LISTEN", "8080"}})),
               StartsWith("SLUICE_LISTEN: not a listen address: '8080'"));
    CHECK_THAT(error_of("", env_of({{"SLUICE_REDIS_URL", "redis://h:0"}})),
               StartsWith("SLUICE_REDIS_URL: the port"));
    CHECK_THAT(error_of("", env_of({{"SLUICE_LOG_LEVEL", "loud"}})),
               StartsWith("SLUICE_LOG_LEVEL: unknown level 'loud'"));
}

TEST_CASE("connection and queue limits against abuse are read and bounded", "[unit][config]") {
    auto s = parse(
        "http:\n  first_byte_timeout: 2s\n  max_connections_per_client: 50\n"
        "  max_header_bytes: 64KiB\nwebsocket:\n  max_queued_bytes: 1MiB\n",
        "test.yaml", "/etc/sluice", no_env());
    CHECK(s.http.first_byte_timeout == std::chrono::seconds(2));
    CHECK(s.http.max_connections_per_client == 50);
    CHECK(s.http.max_header_bytes == 64 * 1024);
    CHECK(s.websocket.max_queued_bytes == 1024 * 1024);
    auto d = parse("", "test.yaml", "/etc/sluice", no_env());
    CHECK(d.http.first_byte_timeout == std::chrono::seconds(5));
    CHECK(d.http.max_connections_per_client == 1000);
    CHECK(d.websocket.max_queued_bytes == 16 * 1024 * 1024);
    // The HTTP parser stores a header field's offsets in 16 bits.
    CHECK_THAT(error_of("http:\n  max_header_bytes: 1MiB\n"),
               Contains("'http.max_header_bytes' is out of range"));
    CHECK_THAT(error_of("websocket:\n  max_queued_bytes: 1KiB\n"),
               Contains("'websocket.max_queued_bytes' is out of range"));
}

TEST_CASE("the contract engine's limits are read and bounded", "[unit][config]") {
    auto s = parse(
        "schemas:\n  regex_match_limit: 5000\n  regex_depth_limit: 200\n"
        "  max_evaluation_steps: 50000\n",
        "test.yaml", "/etc/sluice", no_env());
    CHECK(s.schemas.regex_match_limit == 5000);
    CHECK(s.schemas.regex_depth_limit == 200);
    CHECK(s.schemas.max_evaluation_steps == 50000);
    auto d = parse("", "test.yaml", "/etc/sluice", no_env());
    CHECK(d.schemas.regex_match_limit == 100'000);
    CHECK(d.schemas.regex_depth_limit == 10'000);
    CHECK(d.schemas.max_evaluation_steps == 1'000'000);
    auto example = load_file(SLUICE_SOURCE_DIR "/config/sluice.yaml", no_env());
    CHECK(example.schemas.regex_match_limit == d.schemas.regex_match_limit);
    CHECK(example.schemas.regex_depth_limit == d.schemas.regex_depth_limit);
    CHECK(example.schemas.max_evaluation_steps == d.schemas.max_evaluation_steps);
    CHECK_THAT(error_of("schemas:\n  regex_match_limit: 10\n"),
               Contains("'schemas.regex_match_limit' is out of range: 10; expected an integer "
                        "from 1000 to 100000000"));
    CHECK_THAT(error_of("schemas:\n  max_evaluation_steps: lots\n"),
               Contains("'schemas.max_evaluation_steps' must be an integer"));
}

TEST_CASE("redis.sentinel and redis.mode: the sentinels, the master and their own credentials",
          "[unit][config]") {
    auto s = parse(R"(redis:
  url: redis://:node-pass@ignored:6379/1
  mode: sentinel
  sentinel:
    addresses: ["10.0.0.1:26379", "10.0.0.2"]
    master_name: orders
    username: watcher
    password: sentinel-pass
)",
                   "test.yaml", "/etc/sluice", no_env());
    const auto& ep = s.redis.endpoint;
    REQUIRE(ep.is_sentinel());
    CHECK(ep.sentinels.size() == 2);
    CHECK(ep.sentinels[1].port == 26379);
    CHECK(ep.master_name == "orders");
    CHECK(ep.password == "node-pass");
    CHECK(ep.db == 1);
    CHECK(ep.sentinel_username == "watcher");
    CHECK(ep.sentinel_password == "sentinel-pass");

    // The sentinels' credentials stay when SLUICE_REDIS_URL names other sentinels.
    auto env = env_of({{"SLUICE_REDIS_URL", "redis+sentinel://s1:26379,s2:26379/orders"}});
    auto e = parse("redis:\n  sentinel:\n    password: sentinel-pass\n", "test.yaml", "/etc/sluice",
                   env);
    CHECK(e.redis.endpoint.sentinels.size() == 2);
    CHECK(e.redis.endpoint.sentinel_password == "sentinel-pass");
    auto secret =
        parse("redis:\n  sentinel:\n    password: from-file\n", "test.yaml", "/etc/sluice",
              env_of({{"SLUICE_REDIS_URL", "redis+sentinel://s1:26379/orders"},
                      {"SLUICE_REDIS_SENTINEL_PASSWORD", "from-secret"}}));
    CHECK(secret.redis.endpoint.sentinel_password == "from-secret");

    CHECK_THAT(error_of("redis:\n  mode: cluster\n"), Contains("cluster is not supported yet"));
    CHECK_THAT(error_of("redis:\n  mode: sentinel\n"),
               Contains("'redis.mode' is sentinel but no sentinel is given"));
    CHECK_THAT(error_of("redis:\n  mode: standalone\n  url: redis+sentinel://h:26379/m\n"),
               Contains("'redis.mode' is standalone but sentinels are given"));
    CHECK_THAT(error_of("redis:\n  mode: ring\n"), Contains("unknown value 'ring'"));
    // The environment's URL is held to redis.mode too.
    CHECK_THAT(error_of("redis:\n  mode: standalone\n",
                        env_of({{"SLUICE_REDIS_URL", "redis+sentinel://s1:26379/orders"}})),
               Contains("'redis.mode' is standalone but sentinels are given"));
    CHECK_THAT(error_of("redis:\n  mode: sentinel\n  sentinel:\n    addresses: [\"h:26379\"]\n"
                        "    master_name: m\n",
                        env_of({{"SLUICE_REDIS_URL", "redis://h:6379/0"}})),
               Contains("'redis.mode' is sentinel but no sentinel is given"));
    CHECK_THAT(error_of("redis:\n  sentinel:\n    addresses: [\"h:26379\"]\n"),
               Contains("'redis.sentinel.master_name' is missing"));
    CHECK_THAT(error_of("redis:\n  sentinel:\n    addresses: [\"h:x\"]\n    master_name: m\n"),
               Contains("'redis.sentinel.addresses' has a bad address 'h:x'"));
}

TEST_CASE("publish.min_replicas and replica_timeout are read and bounded", "[unit][config]") {
    auto s = parse("publish:\n  min_replicas: 1\n  replica_timeout: 250ms\n", "test.yaml",
                   "/etc/sluice", no_env());
    CHECK(s.publish.min_replicas == 1);
    CHECK(s.publish.replica_timeout == std::chrono::milliseconds(250));
    auto d = parse("", "test.yaml", "/etc/sluice", no_env());
    CHECK(d.publish.min_replicas == 0);
    CHECK_THAT(error_of("publish:\n  min_replicas: 100\n"), Contains("min_replicas"));
    CHECK_THAT(error_of("publish:\n  replica_timeout: 0ms\n"), Contains("replica_timeout"));
}
