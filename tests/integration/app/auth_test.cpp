// Authentication and permissions against the real binary, real Redis, real sockets:
// every kind of endpoint without credentials, with a bad key, with a principal that
// lacks the permission and with one that has it.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "auth/jwt.hpp"
#include "integration/deliver/delivery_broker.hpp"
#include "support/broker_process.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// sk_demo_publish, sk_demo_admin and sk_demo_billing, by their SHA-256.
const std::string auth_section = R"(auth:
  api_keys:
    - name: publisher
      sha256: 5c8096b743a6f25b28a213c956999c8c479fd44b901a524ad5f570f34ac9c817
      permissions:
        - {types: ["user.*"], allow: [publish]}
    - name: operator
      sha256: 976066FD81BCA4325728E8F365B487187D44231C5C7C45707A0027FA1F54F68B
      permissions:
        - {types: ["*"], allow: [admin, replay, metrics]}
    - name: billing
      sha256: 8f847ee924d578d5daf914839c59a0ff6c7412e240f94bb8a65914484bd9e60e
      permissions:
        - {types: ["user.created"], groups: ["billing"], allow: [consume]}
)";

struct secured_broker {
    test::redis_server redis;
    test::broker_config cfg;
    std::unique_ptr<test::child_process> process;
    explicit secured_broker(const std::string& extra = auth_section)
        : cfg(redis.url(), extra), process(test::start_broker(cfg)) {
        REQUIRE(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    }
    test::http_reply call(const std::string& method, const std::string& target,
                          const std::string& key = {}, const std::string& body = {}) {
        return call_on(cfg.port, method, target, key, body);
    }
    // A request on its own connection to `port`, with `key` as a bearer credential.
    static test::http_reply call_on(std::uint16_t port, const std::string& method,
                                    const std::string& target, const std::string& key = {},
                                    const std::string& body = {}) {
        test::http_connection c(port);
        std::string headers;
        if (!key.empty()) headers += "Authorization: Bearer " + key + "\r\n";
        if (!body.empty()) headers += "Content-Type: application/json\r\n";
        return c.request(method, target, body, headers);
    }
};

void check_problem(const test::http_reply& r, unsigned status, const std::string& code) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK_THAT(r.body, Contains(R"("code":")" + code + "\""));
}

}  // namespace

TEST_CASE("auth: probes stay open, everything else needs credentials", "[auth]") {
    secured_broker b(auth_section + "http:\n  access_log: true\n");
    CHECK(b.call("GET", "/healthz").status == 200);
    auto ready = b.call("GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK_THAT(ready.body, Contains(R"("auth":"enabled")"));
    for (auto target : {"/metrics", "/v1/version", "/v1/streams/user.created/events",
                        "/v1/streams/user.created/groups", "/v1/dlq/user.created"}) {
        INFO(target);
        auto none = b.call("GET", target);
        check_problem(none, 401, "unauthorized");
        CHECK(none.header("WWW-Authenticate") == R"(Bearer realm="sluice")");
        auto bad = b.call("GET", target, "sk_not_a_key");
        check_problem(bad, 401, "unauthorized");
        CHECK_THAT(bad.header("WWW-Authenticate"), Contains("invalid_token"));
        check_problem(b.call("GET", target, "sk_demo_publish"), 403, "forbidden");
        CHECK(b.call("GET", target, "sk_demo_admin").status == 200);
    }
    // One dead letter: replay, like the list (the admin key has it; none exists: 404).
    check_problem(b.call("GET", "/v1/dlq/user.created/1-1"), 401, "unauthorized");
    check_problem(b.call("GET", "/v1/dlq/user.created/1-1", "sk_demo_publish"), 403, "forbidden");
    check_problem(b.call("GET", "/v1/dlq/user.created/1-1", "sk_demo_admin"), 404,
                  "dead_letter_not_found");
    check_problem(b.call("POST", "/v1/events", "", test::user_event(1)), 401, "unauthorized");
    check_problem(b.call("POST", "/v1/events", "sk_nope", test::user_event(1)), 401,
                  "unauthorized");
    // X-API-Key is the other way to send a key.
    test::http_connection c(b.cfg.port);
    CHECK(c.request("GET", "/metrics", "", "X-API-Key: sk_demo_admin\r\n").status == 200);
    // The key never shows in the logs.
    CHECK(b.process->output().find("sk_demo") == std::string::npos);
}

TEST_CASE("auth: publish is checked per event type, and a batch stores what is allowed", "[auth]") {
    secured_broker b;
    CHECK(b.call("POST", "/v1/events", "sk_demo_publish", test::user_event(1)).status == 201);
    auto order = R"({"specversion":"1.0","type":"order.placed","source":"/t","id":"o1","data":{}})";
    check_problem(
        b.call("POST", "/v1/events", "sk_demo_publish", R"({"type":"order.placed","data":{}})"),
        403, "forbidden");
    check_problem(b.call("POST", "/v1/events", "sk_demo_admin", test::user_event(2)), 403,
                  "forbidden");
    std::string user =
        R"({"specversion":"1.0","type":"user.created","source":"/t","id":"u9","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"}})";
    test::http_connection c(b.cfg.port);
    auto r = c.request("POST", "/v1/events", "[" + user + "," + order + "]",
                       "Authorization: Bearer sk_demo_publish\r\n"
                       "Content-Type: application/cloudevents-batch+json\r\n");
    INFO(r.body);
    CHECK(r.status == 207);
    CHECK_THAT(r.body, Contains(R"({"status":403,"problem":)"));
    CHECK_THAT(r.body, Contains(R"("stored":1,"failed":1)"));
    auto page = b.call("GET", "/v1/streams/user.created/events", "sk_demo_admin");
    CHECK_THAT(page.body, Contains(R"("id":"u9")"));
}

TEST_CASE("auth: admin actions need admin on the type", "[auth]") {
    secured_broker b;
    check_problem(b.call("PUT", "/v1/streams/user.created/groups/billing", "sk_demo_billing"), 403,
                  "forbidden");
    check_problem(b.call("PUT", "/v1/streams/user.created/groups/billing"), 401, "unauthorized");
    CHECK(b.call("PUT", "/v1/streams/user.created/groups/billing", "sk_demo_admin").status == 201);
    check_problem(b.call("DELETE", "/v1/dlq/user.created?all=true", "sk_demo_billing"), 403,
                  "forbidden");
    check_problem(
        b.call("POST", "/v1/dlq/user.created/requeue", "sk_demo_publish", R"({"all":true})"), 403,
        "forbidden");
    CHECK(b.call("DELETE", "/v1/dlq/user.created?all=true", "sk_demo_admin").status == 200);
    // Each admin action that went through is one audit line naming who did it.
    CHECK(b.process->wait_for_output(
        R"("msg":"audit","principal":"operator","action":"group.create","type":"user.created","group":"billing")",
        2s));
    CHECK(b.process->wait_for_output(
        R"("msg":"audit","principal":"operator","action":"dead_letters.delete","type":"user.created","all":true,"deleted":0)",
        2s));
    CHECK(b.process->output().find(R"("principal":"billing")") == std::string::npos);
}

TEST_CASE("auth: a WebSocket needs credentials, and each subscribe its permission", "[auth]") {
    secured_broker b(auth_section + "http:\n  access_log: true\n");
    CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws?access_token=sk_wrong"));
    CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws", {{"Authorization", "Bearer sk_wrong"}}));
    test::ws_client c(b.cfg.port, "/v1/ws?access_token=sk_demo_billing");
    c.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"billing"})");
    CHECK(c.receive_op("subscribed"));
    c.send(R"({"op":"subscribe","id":"t","type":"user.created","group":"shipping"})");
    auto refused = c.receive_op("error");
    REQUIRE(refused);
    CHECK_THAT(*refused, Contains(R"("code":"forbidden")"));
    c.send(R"({"op":"subscribe","id":"u","type":"user.created"})");
    auto fanout = c.receive_op("error");
    REQUIRE(fanout);
    CHECK_THAT(*fanout, Contains(R"("code":"forbidden")"));
    // The group is fed to the principal that may consume it.
    CHECK(b.call("POST", "/v1/events", "sk_demo_publish", test::user_event(7)).status == 201);
    CHECK(c.receive_op("event"));
    // The header works too.
    test::ws_client h(b.cfg.port, "/v1/ws", {{"Authorization", "Bearer sk_demo_billing"}});
    h.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"billing"})");
    CHECK(h.receive_op("subscribed"));
    // The token in the query is not logged.
    CHECK(b.process->output().find("sk_demo_billing") == std::string::npos);
    // A plain GET of the socket's URL is answered (no upgrade), and logged without the token.
    CHECK(b.call("GET", "/v1/ws?access_token=sk_demo_billing").status == 401);
    CHECK(b.process->wait_for_output("access_token=REDACTED", 2s));
    CHECK(b.process->output().find("sk_demo_billing") == std::string::npos);
}

TEST_CASE("auth: a browser socket authenticates with its first frame, and may refresh", "[auth]") {
    secured_broker b(auth_section + "websocket:\n  auth_timeout: 400ms\n");
    test::ws_client c(b.cfg.port);
    c.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"billing"})");
    auto before = c.receive_op("error");
    REQUIRE(before);
    CHECK_THAT(*before, Contains(R"("code":"unauthorized")"));
    c.send(R"({"op":"auth","token":"sk_wrong"})");
    auto bad = c.receive_op("error");
    REQUIRE(bad);
    CHECK_THAT(*bad, Contains(R"("code":"unauthorized")"));
    c.send(R"({"op":"auth","token":"sk_demo_billing"})");
    auto ok = c.receive_op("authenticated");
    REQUIRE(ok);
    CHECK_THAT(*ok, Contains(R"("principal":"billing","expires_at":null)"));
    c.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"billing"})");
    CHECK(c.receive_op("subscribed"));
    // Past the auth timeout the authenticated socket stays.
    CHECK_FALSE(c.wait_closed(700ms));
    // Acting as another principal ends what it may not hold.
    c.send(R"({"op":"auth","token":"sk_demo_publish"})");
    auto dropped = c.receive_op("unsubscribed");
    REQUIRE(dropped);
    CHECK_THAT(*dropped, Contains(R"("reason":"forbidden")"));
    CHECK(c.receive_op("authenticated"));

    // One that never authenticates is closed with 4401.
    test::ws_client silent(b.cfg.port);
    REQUIRE(silent.wait_closed(3s));
    CHECK(silent.close_code() == 4401);
    CHECK(silent.close_reason() == "authentication required");
}

TEST_CASE("auth: pages of other origins cannot open a WebSocket", "[auth]") {
    SECTION("no list: only the broker's own origin") {
        secured_broker b("");
        auto own = "http://127.0.0.1:" + std::to_string(b.cfg.port);
        CHECK_NOTHROW(test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", own}}));
        CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "https://evil.example"}}));
        CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "null"}}));
        CHECK_NOTHROW(test::ws_client(b.cfg.port));  // not a browser
        test::http_connection c(b.cfg.port);
        c.send(
            "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: https://evil.example\r\n\r\n");
        auto r = c.read_reply();
        CHECK(r.status == 403);
        CHECK_THAT(r.body, Contains(R"("code":"origin_not_allowed")"));
    }
    SECTION("a list with a wildcard") {
        secured_broker b(
            "websocket:\n  allowed_origins: [\"https://app.example.com\", "
            "\"https://*.example.org\"]\n");
        CHECK_NOTHROW(
            test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "https://app.example.com"}}));
        CHECK_NOTHROW(
            test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "https://eu.shop.example.org"}}));
        CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "https://example.org"}}));
        CHECK_THROWS(test::ws_client(b.cfg.port, "/v1/ws", {{"Origin", "http://app.example.com"}}));
    }
}

TEST_CASE("auth: without an auth section the broker is open, and says so", "[auth]") {
    secured_broker b("");
    CHECK_THAT(b.call("GET", "/readyz").body, Contains(R"("auth":"disabled")"));
    CHECK(b.call("GET", "/metrics").status == 200);
    CHECK_THAT(b.process->output(), Contains("authentication is off"));
}

TEST_CASE("auth: anonymous may do what auth.anonymous grants, nothing else", "[auth]") {
    secured_broker b(auth_section + "  anonymous:\n    - {types: [\"*\"], allow: [replay]}\n");
    CHECK(b.call("GET", "/v1/streams/user.created/events").status == 200);
    check_problem(b.call("GET", "/metrics"), 401, "unauthorized");
    check_problem(b.call("POST", "/v1/events", "", test::user_event(1)), 403, "forbidden");
}

TEST_CASE("auth: a burst over a rate limit gets 429 with Retry-After, and recovers", "[auth]") {
    secured_broker b(auth_section +
                     "rate_limits:\n  publish_per_principal: 5\n  connections_per_client: 20\n"
                     "  subscriptions_per_principal: 2\n  burst: 1s\n");
    test::http_connection c(b.cfg.port);
    auto publish = [&](int n) {
        return c.request("POST", "/v1/events", test::user_event(n),
                         "Authorization: Bearer sk_demo_publish\r\nContent-Type: "
                         "application/json\r\n");
    };
    int stored = 0;
    test::http_reply refused;
    for (int i = 0; i < 8; ++i) {
        auto r = publish(i);
        if (r.status == 201)
            ++stored;
        else
            refused = r;
    }
    CHECK(stored == 5);
    check_problem(refused, 429, "rate_limited");
    CHECK(refused.header("Retry-After") == "1");
    std::this_thread::sleep_for(1100ms);
    CHECK(publish(100).status == 201);

    // New connections from one address: past 20 in a second, 429 and closed.
    int turned_away = 0;
    for (int i = 0; i < 30; ++i) {
        test::http_connection k(b.cfg.port);
        auto r = k.request("GET", "/healthz");
        if (r.status == 429) ++turned_away;
    }
    CHECK(turned_away >= 9);

    std::this_thread::sleep_for(1100ms);
    test::ws_client w(b.cfg.port, "/v1/ws?access_token=sk_demo_billing");
    w.send(R"({"op":"subscribe","id":"a","type":"user.created","group":"billing"})");
    CHECK(w.receive_op("subscribed"));
    w.send(R"({"op":"unsubscribe","sub":"a"})");
    CHECK(w.receive_op("unsubscribed"));
    w.send(R"({"op":"subscribe","id":"b","type":"user.created","group":"billing"})");
    CHECK(w.receive_op("subscribed"));
    w.send(R"({"op":"subscribe","id":"c","type":"user.created","group":"billing"})");
    auto limited = w.receive_op("error");
    REQUIRE(limited);
    CHECK_THAT(*limited, Contains(R"("code":"rate_limited")"));
    auto text = b.call("GET", "/metrics", "sk_demo_admin").body;
    CHECK_THAT(text, Contains(R"(sluice_rate_limited_total{what="publish"} 3)"));
    CHECK_THAT(text, Contains(R"(sluice_rate_limited_total{what="subscribe"} 1)"));
    CHECK_THAT(text, Contains(R"(sluice_rate_limited_total{what="connection"})"));
}

TEST_CASE("auth: with an admin listener the public port carries publish and subscribe alone",
          "[auth]") {
    test::redis_server redis;
    auto admin_port = test::free_port();
    test::broker_config cfg(redis.url(), auth_section +
                                             "admin_listen:\n  address: 127.0.0.1\n"
                                             "  port: " +
                                             std::to_string(admin_port) + "\n");
    auto process = test::start_broker(cfg);
    REQUIRE(test::wait_for_status(admin_port, "/readyz", 200, 5s).status == 200);
    auto call = [](const auto&... a) { return secured_broker::call_on(a...); };
    // Public: publish, subscribe and replay; nothing operational, nothing admin.
    for (auto target :
         {"/metrics", "/readyz", "/healthz", "/v1/version", "/v1/streams/user.created/groups"})
        check_problem(call(cfg.port, "GET", target, "sk_demo_admin"), 404, "not_found");
    check_problem(call(cfg.port, "PUT", "/v1/streams/user.created/groups/g", "sk_demo_admin"), 404,
                  "not_found");
    CHECK(call(cfg.port, "POST", "/v1/events", "sk_demo_publish", test::user_event(1)).status ==
          201);
    CHECK(call(cfg.port, "GET", "/v1/streams/user.created/events", "sk_demo_admin").status == 200);
    CHECK_NOTHROW(test::ws_client(cfg.port, "/v1/ws?access_token=sk_demo_billing"));
    // Admin: probes, metrics and version without credentials; admin actions with them.
    CHECK(call(admin_port, "GET", "/metrics").status == 200);
    CHECK(call(admin_port, "GET", "/v1/version").status == 200);
    CHECK(call(admin_port, "GET", "/healthz").status == 200);
    check_problem(call(admin_port, "PUT", "/v1/streams/user.created/groups/g"), 401,
                  "unauthorized");
    CHECK(call(admin_port, "PUT", "/v1/streams/user.created/groups/g", "sk_demo_admin").status ==
          201);
    check_problem(call(admin_port, "POST", "/v1/events", "sk_demo_publish", test::user_event(2)),
                  404, "not_found");
    CHECK_THROWS(test::ws_client(admin_port, "/v1/ws?access_token=sk_demo_billing"));
}

namespace {

// Tokens for the JWT tests, minted with the openssl CLI: an RSA key pair in a temp
// folder, and RS256 / HS256 signing of any header and payload.
struct token_mint {
    std::filesystem::path dir;
    token_mint() {
        dir = std::filesystem::temp_directory_path() /
              ("sluice-jwt-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::create_directories(dir);
        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + path("rsa.pem") +
            " 2>/dev/null");
        run("openssl pkey -in " + path("rsa.pem") + " -pubout -out " + path("rsa.pub.pem"));
        std::ofstream(dir / "hs.secret") << std::string(40, 'k');
    }
    ~token_mint() { std::filesystem::remove_all(dir); }
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::string path(const std::string& name) const { return (dir / name).string(); }
    static void run(const std::string& cmd) { REQUIRE(std::system(cmd.c_str()) == 0); }
    static std::string b64url(const std::string& in) { return auth::base64url_encode(in); }
    static std::string hex(const std::string& bytes) {
        static const char* d = "0123456789abcdef";
        std::string out;
        for (unsigned char c : bytes) {
            out += d[c >> 4];
            out += d[c & 15];
        }
        return out;
    }
    std::string read(const std::string& name) const {
        std::ifstream in(dir / name, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    // `alg`: RS256 (the RSA key), HS256 (`secret_file`'s bytes as the secret), none.
    std::string sign(const std::string& alg, const std::string& payload,
                     const std::string& secret_file = "hs.secret") const {
        auto input = b64url(R"({"alg":")" + alg + R"(","typ":"JWT"})") + "." + b64url(payload);
        std::ofstream(dir / "input") << input;
        if (alg == "none") return input + ".";
        if (alg == "RS256")
            run("openssl dgst -sha256 -sign " + path("rsa.pem") + " -out " + path("sig") + " " +
                path("input"));
        else
            run("openssl dgst -sha256 -mac HMAC -macopt hexkey:" + hex(read(secret_file)) +
                " -binary -out " + path("sig") + " " + path("input"));
        return input + "." + b64url(read("sig"));
    }
};

std::string claims(long long exp_in, const std::string& extra = {}) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return R"({"sub":"svc-orders","aud":"sluice","exp":)" + std::to_string(now + exp_in) +
           R"(,"sluice":[{"types":["user.*"],"allow":["publish"]},{"types":["user.created"],"groups":["billing"],"allow":["consume"]}])" +
           extra + "}";
}

}  // namespace

TEST_CASE("auth: JWTs are verified, with their claims, and their permissions apply", "[auth]") {
    token_mint mint;
    secured_broker b("auth:\n  jwt:\n    public_keys: [" + mint.path("rsa.pub.pem") +
                     "]\n    hmac_secrets: [" + mint.path("hs.secret") +
                     "]\n    audience: [sluice]\n    leeway: 1s\n");
    auto good = mint.sign("RS256", claims(300));
    CHECK(b.call("POST", "/v1/events", good, test::user_event(1)).status == 201);
    CHECK(
        b.call("POST", "/v1/events", mint.sign("HS256", claims(300)), test::user_event(2)).status ==
        201);
    check_problem(b.call("GET", "/metrics", good), 403, "forbidden");
    auto refused = [&](const std::string& token, const std::string& why) {
        auto r = b.call("POST", "/v1/events", token, test::user_event(3));
        INFO(why);
        check_problem(r, 401, "unauthorized");
        CHECK_THAT(r.body, Contains(why));
        CHECK_THAT(r.header("WWW-Authenticate"), Contains("invalid_token"));
    };
    refused(mint.sign("RS256", claims(-60)), "expired");
    refused(mint.sign("none", claims(300)), "none");
    auto tampered = good;
    tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
    refused(tampered, "signature");
    // Algorithm confusion: HS256 with the RSA public key's bytes as the secret.
    refused(mint.sign("HS256", claims(300), "rsa.pub.pem"), "");
    auto bad_aud = claims(300);
    bad_aud.replace(bad_aud.find("\"sluice\""), 8, "\"other\"");
    refused(mint.sign("RS256", bad_aud), "audience");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    refused(mint.sign("RS256", claims(300, R"(,"nbf":)" + std::to_string(now + 600))), "");

    // A socket whose token expires without a refresh is closed with 4401.
    test::ws_client c(b.cfg.port, "/v1/ws?access_token=" + mint.sign("RS256", claims(2)));
    c.send(R"({"op":"subscribe","id":"s","type":"user.created","group":"billing"})");
    CHECK(c.receive_op("subscribed"));
    REQUIRE(c.wait_closed(6s));
    CHECK(c.close_code() == 4401);
    CHECK(c.close_reason() == "credentials expired");
    // Refreshed in time, it stays.
    test::ws_client r(b.cfg.port, "/v1/ws?access_token=" + mint.sign("RS256", claims(2)));
    r.send(R"({"op":"auth","token":")" + good + R"("})");
    auto ok = r.receive_op("authenticated");
    REQUIRE(ok);
    CHECK_THAT(*ok, Contains(R"("principal":"svc-orders")"));
    CHECK_FALSE(r.wait_closed(3s));
    // No token reaches the log.
    CHECK(b.process->output().find(good.substr(good.rfind('.'))) == std::string::npos);
}
