// TLS on the listener against the real binary, real Redis and real clients: curl over
// HTTPS, a Node `ws` client over wss://, client certificates (mTLS) accepted and
// refused, and a certificate swapped on SIGHUP while a connection stays open.
// Certificates are minted here with the OpenSSL CLI.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "auth/authenticator.hpp"
#include "support/broker_process.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

struct run_result {
    int code = -1;
    std::string output;
};

// Runs a command to its end (within `timeout`) and returns its exit code and output.
run_result run(std::vector<std::string> argv, std::chrono::milliseconds timeout = 20s) {
    test::child_process p(std::move(argv));
    auto code = p.wait(timeout);
    return {code ? *code : -1, p.output()};
}

// A CA and certificates it signs, in a folder of their own.
struct pki {
    fs::path dir;
    pki() {
        char tmpl[] = "/tmp/sluice-pki-XXXXXX";
        dir = ::mkdtemp(tmpl);
        make_ca("ca", "Sluice Test CA");
    }
    ~pki() { fs::remove_all(dir); }
    std::string path(const std::string& name) const { return (dir / name).string(); }

    void make_ca(const std::string& name, const std::string& cn) const {
        auto r = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(name + ".key"), "-out",
                      path(name + ".crt"), "-days", "2", "-subj", "/CN=" + cn});
        REQUIRE(r.code == 0);
    }
    // `name`.crt and `name`.key, signed by `ca`, with subject CN `cn` and SANs `san`.
    void issue(const std::string& name, const std::string& cn, const std::string& san = {},
               const std::string& ca = "ca") const {
        auto r = run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"),
                      "-subj", "/CN=" + cn});
        REQUIRE(r.code == 0);
        std::vector<std::string> sign{"openssl",
                                      "x509",
                                      "-req",
                                      "-in",
                                      path(name + ".csr"),
                                      "-CA",
                                      path(ca + ".crt"),
                                      "-CAkey",
                                      path(ca + ".key"),
                                      "-CAcreateserial",
                                      "-out",
                                      path(name + ".crt"),
                                      "-days",
                                      "2"};
        if (!san.empty()) {
            std::ofstream(path(name + ".ext")) << "subjectAltName=" << san << "\n";
            sign.push_back("-extfile");
            sign.push_back(path(name + ".ext"));
        }
        r = run(sign);
        REQUIRE(r.code == 0);
    }
};

const std::string publisher_key = "sk_tls_publisher";

// With `certificates`: the client-certificate principal too (needs client_ca_file).
std::string auth_section(bool certificates) {
    return "auth:\n  api_keys:\n    - name: publisher\n      sha256: " +
           auth::sha256_hex(publisher_key) +
           "\n      permissions:\n        - {types: [\"*\"], allow: [publish, subscribe, "
           "metrics]}\n" +
           std::string(certificates
                           ? "  certificates:\n"
                             "    - identity: billing-service\n"
                             "      permissions:\n"
                             "        - {types: [\"user.*\"], allow: [publish, subscribe]}\n"
                           : "");
}

std::string tls_section(const pki& p, std::uint16_t port, const std::string& more = {}) {
    return "tls_listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port) +
           "\n  cert_file: " + p.path("server.crt") + "\n  key_file: " + p.path("server.key") +
           "\n" + more;
}

const std::string user_event =
    R"({"specversion":"1.0","type":"user.created","source":"/t","id":"ID","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"}})";

std::string event_with_id(const std::string& id) {
    auto out = user_event;
    out.replace(out.find("\"ID\""), 4, "\"" + id + "\"");
    return out;
}

struct tls_broker {
    pki certs;
    std::uint16_t tls_port = test::free_port();
    test::redis_server redis;
    std::unique_ptr<test::broker_config> cfg;
    std::unique_ptr<test::child_process> process;

    // `more`: what else the config says, given the certificates (tls_listen's keys
    // first: they continue that section).
    explicit tls_broker(const std::function<std::string(const pki&)>& more = {}) {
        certs.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
        auto tls_more = more ? more(certs) : "";
        std::string extra = tls_section(certs, tls_port, tls_more) +
                            auth_section(tls_more.find("client_ca_file") != std::string::npos);
        cfg = std::make_unique<test::broker_config>(redis.url(), extra);
        process = test::start_broker(*cfg);
        REQUIRE(process->wait_for_output("\"msg\":\"tls listener\"", 5s));
    }

    // curl over HTTPS to the TLS listener, trusting the test CA; extra arguments after.
    run_result curl(const std::string& path, std::vector<std::string> more = {}) const {
        std::vector<std::string> argv{"curl",
                                      "-sS",
                                      "--cacert",
                                      certs.path("ca.crt"),
                                      "-o",
                                      "-",
                                      "-w",
                                      "\n%{http_code}",
                                      "--max-time",
                                      "10",
                                      "https://localhost:" + std::to_string(tls_port) + path};
        argv.insert(argv.end(), more.begin(), more.end());
        return run(argv);
    }
    run_result publish(const std::string& id, std::vector<std::string> more) const {
        more.insert(more.end(), {"-H", "Content-Type: application/cloudevents+json", "--data",
                                 event_with_id(id)});
        return curl("/v1/events", more);
    }
    std::vector<std::string> node_client(int events, std::vector<std::string> more = {}) const {
        std::vector<std::string> argv{
            "node",     SLUICE_SOURCE_DIR "/tests/node/wss_subscriber.mjs",
            "--url",    "wss://localhost:" + std::to_string(tls_port) + "/v1/ws",
            "--ca",     certs.path("ca.crt"),
            "--events", std::to_string(events)};
        argv.insert(argv.end(), more.begin(), more.end());
        return argv;
    }
    std::string metrics() const {
        return curl("/metrics", {"-H", "Authorization: Bearer " + publisher_key}).output;
    }
};

// The HTTP status curl printed last (its -w), or "" when it failed before one.
std::string status_of(const run_result& r) {
    auto nl = r.output.rfind('\n');
    return nl == std::string::npos ? "" : r.output.substr(nl + 1);
}

void require_node_client() {
    REQUIRE(run({"node", "--version"}).code == 0);
    INFO("run `npm ci` in tests/node (make test does)");
    REQUIRE(fs::exists(SLUICE_SOURCE_DIR "/tests/node/node_modules/ws/package.json"));
}

}  // namespace

TEST_CASE("HTTPS and WSS serve beside plain HTTP", "[app][tls]") {
    require_node_client();
    tls_broker b;
    CHECK(status_of(b.curl("/healthz")) == "200");
    // The plain listener serves on, and speaks no TLS.
    CHECK(test::http_get(b.cfg->port, "/healthz").status == 200);
    CHECK(run({"curl", "-sS", "--max-time", "5", "--cacert", b.certs.path("ca.crt"),
               "https://localhost:" + std::to_string(b.cfg->port) + "/healthz"})
              .code != 0);

    // A WebSocket over TLS gets an event published over TLS.
    test::child_process client(b.node_client(1, {"--token", publisher_key}));
    REQUIRE(client.wait_for_output("\"op\":\"subscribed\"", 10s));
    auto r = b.publish("tls-1", {"-H", "Authorization: Bearer " + publisher_key});
    CHECK(status_of(r) == "201");
    REQUIRE(client.wait(10s) == 0);
    CHECK_THAT(client.output(), Contains("event tls-1"));

    // Without credentials, TLS changes nothing about auth.
    CHECK(status_of(b.publish("tls-2", {})) == "401");
}

TEST_CASE("the TLS listener refuses what is not TLS 1.2 or later, and counts it", "[app][tls]") {
    tls_broker b;
    auto old =
        run({"curl", "-sS", "--max-time", "5", "--cacert", b.certs.path("ca.crt"), "--tlsv1.1",
             "--tls-max", "1.1", "https://localhost:" + std::to_string(b.tls_port) + "/healthz"});
    CHECK(old.code != 0);
    // Plain HTTP sent to the TLS port: no answer but a failed handshake.
    test::http_connection plain(b.tls_port);
    plain.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(plain.closed_by_peer(5s));
    CHECK_THAT(b.metrics(), Contains(R"(sluice_tls_handshake_failures_total{why="refused"} 2)"));
}

TEST_CASE("a TLS handshake must finish within the first-byte deadline", "[app][tls]") {
    tls_broker b;
    // broker_config's default is 5s; a silent connection must be closed by then.
    test::http_connection silent(b.tls_port);
    CHECK(silent.closed_by_peer(8s));
    CHECK_THAT(b.metrics(), Contains(R"(sluice_tls_handshake_failures_total{why="timeout"} 1)"));
    CHECK_THAT(b.metrics(), Contains("sluice_tls_certificate_expiry_timestamp_seconds "));
}

TEST_CASE("mTLS: a required client certificate names the principal", "[app][tls]") {
    require_node_client();
    tls_broker b([](const pki& p) { return "  client_ca_file: " + p.path("ca.crt") + "\n"; });
    b.certs.issue("billing", "billing-service");
    b.certs.issue("stranger", "stranger");
    b.certs.make_ca("evil", "Evil CA");
    b.certs.issue("rogue", "billing-service", {}, "evil");
    auto with = [&](const std::string& name) {
        return std::vector<std::string>{"--cert", b.certs.path(name + ".crt"), "--key",
                                        b.certs.path(name + ".key")};
    };

    // No certificate, or one from another CA: no handshake, no answer at all.
    CHECK(b.curl("/healthz").code != 0);
    CHECK(b.curl("/healthz", with("rogue")).code != 0);
    CHECK(status_of(b.curl("/healthz", with("billing"))) == "200");

    // The certificate is the credential: no key needed, and its permissions hold.
    CHECK(status_of(b.publish("m-1", with("billing"))) == "201");
    auto order = with("billing");
    order.insert(
        order.end(),
        {"-H", "Content-Type: application/cloudevents+json", "--data",
         R"({"specversion":"1.0","type":"order.placed","source":"/t","id":"o1","data":{}})"});
    auto forbidden = b.curl("/v1/events", order);
    CHECK(status_of(forbidden) == "403");
    CHECK_THAT(forbidden.output, Contains("'billing-service' may not publish"));
    // A certificate the config does not list is anonymous; a key it carries still counts.
    CHECK(status_of(b.publish("m-2", with("stranger"))) == "401");
    auto keyed = with("stranger");
    keyed.insert(keyed.end(), {"-H", "Authorization: Bearer " + publisher_key});
    CHECK(status_of(b.publish("m-3", keyed)) == "201");

    // WSS with the certificate: subscribed as billing-service, and served.
    test::child_process client(b.node_client(1, with("billing")));
    REQUIRE(client.wait_for_output("\"op\":\"subscribed\"", 10s));
    CHECK(status_of(b.publish("m-4", with("billing"))) == "201");
    REQUIRE(client.wait(10s) == 0);
    CHECK_THAT(client.output(), Contains("event m-4"));
    // WSS without one: refused in the handshake.
    test::child_process refused(b.node_client(1));
    CHECK(refused.wait(10s) == 1);
    CHECK_THAT(refused.output(), Contains("error "));
    CHECK_THAT(refused.output(), Contains("certificate required"));
    CHECK_THAT(refused.output(), !Contains("\nopen\n"));
}

TEST_CASE("mTLS: an optional client certificate, and the identity from a SAN", "[app][tls]") {
    tls_broker b([](const pki& p) {
        return "  client_ca_file: " + p.path("ca.crt") +
               "\n  client_certificate: optional\n  client_identity: dns\n";
    });
    b.certs.issue("san", "nobody", "DNS:billing-service");
    b.certs.issue("cn-only", "billing-service");
    auto with = [&](const std::string& name) {
        return std::vector<std::string>{"--cert", b.certs.path(name + ".crt"), "--key",
                                        b.certs.path(name + ".key")};
    };
    CHECK(status_of(b.curl("/healthz")) == "200");  // no certificate: let in, anonymous
    CHECK(status_of(b.publish("o-1", {})) == "401");
    CHECK(status_of(b.publish("o-2", with("san"))) == "201");      // the DNS name is the identity
    CHECK(status_of(b.publish("o-3", with("cn-only"))) == "401");  // its CN is not, here
}

TEST_CASE("a certificate swapped on SIGHUP or in place: new connections get it, open ones stay",
          "[app][tls]") {
    require_node_client();
    tls_broker b([](const pki&) { return std::string("reload:\n  watch_interval: 200ms\n"); });
    auto subject_seen = [&] {
        // curl -v prints the server certificate's subject.
        return b.curl("/healthz", {"-v"}).output;
    };
    // Writes a new certificate over the served one, as a renewal would (write, rename).
    auto renew = [&](const std::string& cn) {
        b.certs.issue("next", cn, "DNS:localhost,IP:127.0.0.1");
        fs::copy_file(b.certs.path("next.crt"), b.certs.path("server.crt.new"),
                      fs::copy_options::overwrite_existing);
        fs::copy_file(b.certs.path("next.key"), b.certs.path("server.key.new"),
                      fs::copy_options::overwrite_existing);
        fs::rename(b.certs.path("server.key.new"), b.certs.path("server.key"));
        fs::rename(b.certs.path("server.crt.new"), b.certs.path("server.crt"));
    };
    CHECK_THAT(subject_seen(), Contains("subject: CN=localhost"));

    test::child_process client(b.node_client(2, {"--token", publisher_key}));
    REQUIRE(client.wait_for_output("\"op\":\"subscribed\"", 10s));
    auto key = std::vector<std::string>{"-H", "Authorization: Bearer " + publisher_key};
    CHECK(status_of(b.publish("s-1", key)) == "201");
    REQUIRE(client.wait_for_output("event s-1", 10s));
    auto first_serial = client.output().substr(0, client.output().find('\n'));

    // The reload watcher sees the files change and loads them.
    renew("localhost-renewed");
    REQUIRE(b.process->wait_for_output("TLS certificate loaded", 10s));
    CHECK_THAT(subject_seen(), Contains("subject: CN=localhost-renewed"));

    // SIGHUP does the same (watching off would not matter: the signal reloads).
    renew("localhost-third");
    b.process->signal(SIGHUP);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (subject_seen().find("CN=localhost-third") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    CHECK_THAT(subject_seen(), Contains("subject: CN=localhost-third"));

    // A broken certificate is refused; the one in service stays.
    std::ofstream(b.certs.path("server.crt")) << "not a certificate\n";
    b.process->signal(SIGHUP);
    REQUIRE(b.process->wait_for_output("config reload refused", 10s));
    CHECK_THAT(b.process->output(), Contains("tls_listen.cert_file"));
    CHECK_THAT(subject_seen(), Contains("subject: CN=localhost-third"));

    // The WebSocket opened before all this is still the same connection, and served.
    CHECK(status_of(b.publish("s-2", key)) == "201");
    REQUIRE(client.wait(10s) == 0);
    CHECK_THAT(client.output(), Contains("event s-2"));
    CHECK(client.output().substr(0, client.output().find('\n')) == first_serial);
    CHECK(client.output().find("close 1000") != std::string::npos);
}

TEST_CASE("HTTPS alone: the plain listener turned off", "[app][tls]") {
    pki certs;
    certs.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
    test::redis_server redis;
    auto port = test::free_port();
    test::broker_config cfg(redis.url(), "listen:\n  enabled: false\n" + tls_section(certs, port));
    auto process = test::start_broker(cfg);
    REQUIRE(process->wait_for_output("\"tls\":true", 5s));
    auto r = run({"curl", "-sS", "--cacert", certs.path("ca.crt"), "--max-time", "5",
                  "https://localhost:" + std::to_string(port) + "/healthz"});
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Contains("\"status\":\"ok\""));
    CHECK_THROWS(test::http_get(cfg.port, "/healthz"));
}
