// tls_listen, listen.enabled and auth.certificates: read, checked, and the files
// loaded at config time (certificates made here with OpenSSL).
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.hpp"

using namespace sluice::config;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

env_lookup no_env() {
    return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

// A folder with a self-signed certificate (cert.pem, key.pem) and a second key that
// does not match it (other.pem).
struct cert_dir {
    fs::path dir;
    cert_dir() {
        char tmpl[] = "/tmp/sluice-tls-unit-XXXXXX";
        dir = ::mkdtemp(tmpl);
        EVP_PKEY* key = EVP_EC_gen("P-256");
        EVP_PKEY* other = EVP_EC_gen("P-256");
        REQUIRE((key && other));
        X509* cert = X509_new();
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
        write_pem("cert.pem", [&](FILE* f) { return PEM_write_X509(f, cert); });
        write_pem("key.pem", [&](FILE* f) {
            return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
        });
        write_pem("other.pem", [&](FILE* f) {
            return PEM_write_PrivateKey(f, other, nullptr, nullptr, 0, nullptr, nullptr);
        });
        std::ofstream(dir / "garbage.pem") << "not PEM\n";
        X509_free(cert);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other);
    }
    ~cert_dir() { fs::remove_all(dir); }
    template <typename F>
    void write_pem(const std::string& file, F f) const {
        FILE* out = std::fopen((dir / file).c_str(), "w");
        REQUIRE(out);
        REQUIRE(f(out) == 1);
        std::fclose(out);
    }
    // A config with tls_listen on port 8443 and `more` keys in it.
    std::string tls(const std::string& more = {}, const std::string& cert = "cert.pem",
                    const std::string& key = "key.pem") const {
        return "tls_listen:\n  port: 8443\n  cert_file: " + cert + "\n  key_file: " + key + "\n" +
               more;
    }
    std::string error_of(const std::string& yaml) const {
        try {
            parse(yaml, "test.yaml", dir.string(), no_env());
        } catch (const config_error& e) {
            return e.what();
        }
        return {};
    }
};

}  // namespace

TEST_CASE("tls_listen is read, its paths resolved against the config's folder", "[unit][config]") {
    cert_dir d;
    auto s = parse(d.tls("  address: 0.0.0.0\n  min_version: \"1.3\"\n  client_ca_file: cert.pem\n"
                         "  client_certificate: optional\n  client_identity: dns\n"),
                   "test.yaml", d.dir.string(), no_env());
    REQUIRE(s.tls_listen.enabled);
    CHECK(s.tls_listen.address == "0.0.0.0");
    CHECK(s.tls_listen.port == 8443);
    const auto& c = s.tls_listen.certificate;
    CHECK(c.cert_file == (d.dir / "cert.pem").string());
    CHECK(c.key_file == (d.dir / "key.pem").string());
    CHECK(c.client_ca_file == (d.dir / "cert.pem").string());
    CHECK(c.min_version == 13);
    CHECK_FALSE(c.require_client_certificate);
    CHECK(c.client_identity == sluice::net::tls_server_settings::identity::dns);
    CHECK(s.listen.enabled);  // the plain listener stays unless turned off

    auto defaults = parse(d.tls(), "test.yaml", d.dir.string(), no_env());
    CHECK(defaults.tls_listen.address == "127.0.0.1");
    CHECK(defaults.tls_listen.certificate.min_version == 12);
    CHECK(defaults.tls_listen.certificate.client_ca_file.empty());
    CHECK(parse("", "test.yaml", d.dir.string(), no_env()).tls_listen.enabled == false);
}

TEST_CASE("tls_listen's mistakes are refused, naming the key and the file", "[unit][config]") {
    cert_dir d;
    CHECK_THAT(d.error_of("tls_listen:\n  cert_file: cert.pem\n  key_file: key.pem\n"),
               Contains("'tls_listen.port' is missing"));
    CHECK_THAT(d.error_of("tls_listen:\n  port: 8443\n  key_file: key.pem\n"),
               Contains("'tls_listen.cert_file' is missing"));
    CHECK_THAT(d.error_of(d.tls("  min_version: \"1.1\"\n")),
               Contains("'tls_listen.min_version' must be 1.2 or 1.3"));
    CHECK_THAT(d.error_of(d.tls("  client_certificate: optional\n")),
               Contains("needs 'client_ca_file'"));
    CHECK_THAT(d.error_of(d.tls("  client_ca_file: cert.pem\n  client_certificate: maybe\n")),
               Contains("must be required or optional"));
    CHECK_THAT(d.error_of(d.tls("  client_identity: dns\n")), Contains("needs 'client_ca_file'"));
    CHECK_THAT(d.error_of(d.tls("  client_ca_file: cert.pem\n  client_identity: serial\n")),
               Contains("'tls_listen.client_identity' has an unknown value 'serial'"));
    CHECK_THAT(d.error_of(d.tls("  ciphers: all\n")), Contains("unknown key 'ciphers'"));

    auto missing = d.error_of(d.tls({}, "nope.pem"));
    CHECK_THAT(missing, Contains("tls_listen.cert_file"));
    CHECK_THAT(missing, Contains((d.dir / "nope.pem").string()));
    CHECK_THAT(d.error_of(d.tls({}, "garbage.pem")), Contains("not a readable PEM certificate"));
    CHECK_THAT(d.error_of(d.tls({}, "cert.pem", "garbage.pem")),
               Contains("not a readable PEM private key"));
    CHECK_THAT(d.error_of(d.tls({}, "cert.pem", "other.pem")),
               Contains("does not match the certificate"));
    CHECK_THAT(d.error_of(d.tls("  client_ca_file: garbage.pem\n")),
               Contains("tls_listen.client_ca_file"));
}

TEST_CASE("listen.enabled turns the plain listener off, but one listener must remain",
          "[unit][config]") {
    cert_dir d;
    auto s = parse("listen:\n  enabled: false\n" + d.tls(), "test.yaml", d.dir.string(), no_env());
    CHECK_FALSE(s.listen.enabled);
    CHECK(s.tls_listen.enabled);
    CHECK_THAT(d.error_of("listen:\n  enabled: false\n"),
               Contains("'listen.enabled' is false and there is no 'tls_listen'"));
    CHECK_THAT(d.error_of("listen:\n  port: 8443\n" + d.tls()),
               Contains("'tls_listen' has the same address and port as 'listen'"));
    // SLUICE_LISTEN moves the plain listener: checked after it.
    try {
        parse(d.tls(), "test.yaml", d.dir.string(),
              [](std::string_view n) -> std::optional<std::string> {
                  if (n == "SLUICE_LISTEN") return std::string("127.0.0.1:8443");
                  return std::nullopt;
              });
        FAIL("SLUICE_LISTEN on the TLS port was accepted");
    } catch (const config_error& e) {
        CHECK_THAT(e.what(), Contains("same address and port"));
    }
}

TEST_CASE("auth.certificates name principals by certificate identity", "[unit][config]") {
    cert_dir d;
    auto s = parse(d.tls("  client_ca_file: cert.pem\n") + R"(auth:
  certificates:
    - identity: billing-service
      publish_rate: 50
      permissions: [{types: ["user.*"], allow: [publish]}]
)",
                   "test.yaml", d.dir.string(), no_env());
    REQUIRE(s.auth.certificates.size() == 1);
    CHECK(s.auth.certificates[0].identity == "billing-service");
    CHECK(s.auth.certificates[0].publish_rate == 50);
    CHECK(s.auth.certificates[0].grants.size() == 1);
    CHECK_THAT(d.error_of("auth:\n  certificates:\n    - {identity: a}\n"),
               Contains("'auth.certificates' needs 'tls_listen.client_ca_file'"));
    auto mtls = d.tls("  client_ca_file: cert.pem\n");
    CHECK_THAT(d.error_of(mtls + "auth:\n  certificates:\n    - permissions: []\n"),
               Contains("'auth.certificates[0].identity' is missing"));
    CHECK_THAT(
        d.error_of(mtls + "auth:\n  certificates:\n    - {identity: a}\n    - {identity: a}\n"),
        Contains("is listed twice"));
    CHECK_THAT(d.error_of(mtls + "auth:\n  certificates: billing\n"),
               Contains("'auth.certificates' must be a list"));
}
