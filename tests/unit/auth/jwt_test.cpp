#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/jwt.hpp"

using namespace sluice::auth;
namespace fs = std::filesystem;

namespace {

// ---- A test-only JWS signer ---------------------------------------------------------

std::string b64url(std::string_view in) {
    return base64url_encode(in);
}

const unsigned char* u8(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

const EVP_MD* digest_of(std::string_view alg) {
    if (alg.ends_with("384")) return EVP_sha384();
    if (alg.ends_with("512")) return EVP_sha512();
    return EVP_sha256();
}

// The JWS signature of `input` with `alg`: `secret` for HS*, `key` for the others.
std::string signature(std::string_view alg, EVP_PKEY* key, std::string_view secret,
                      std::string_view input) {
    if (alg.starts_with("HS")) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        REQUIRE(HMAC(digest_of(alg), secret.data(), static_cast<int>(secret.size()), u8(input),
                     input.size(), mac, &len));
        return std::string(reinterpret_cast<char*>(mac), len);
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    const EVP_MD* md = alg == "EdDSA" ? nullptr : digest_of(alg);
    REQUIRE(EVP_DigestSignInit(ctx, &pctx, md, nullptr, key) == 1);
    if (alg.starts_with("PS")) {
        REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
        REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
    }
    std::size_t len = 0;
    REQUIRE(EVP_DigestSign(ctx, nullptr, &len, u8(input), input.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, u8(input),
                           input.size()) == 1);
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (!alg.starts_with("ES")) return sig;
    // DER -> R||S, each the curve's size.
    std::size_t size = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
    const auto* p = u8(sig);
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    REQUIRE(ecdsa);
    std::string raw(2 * size, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), out, static_cast<int>(size)) > 0);
    REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), out + size, static_cast<int>(size)) > 0);
    ECDSA_SIG_free(ecdsa);
    return raw;
}

std::string jws(std::string_view header, std::string_view claims, std::string_view alg,
                EVP_PKEY* key, std::string_view secret = {}) {
    std::string input = b64url(header) + "." + b64url(claims);
    return input + "." + b64url(signature(alg, key, secret, input));
}

std::string header_for(std::string_view alg, std::string_view kid = {}) {
    std::string h = "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"";
    if (!kid.empty()) h += ",\"kid\":\"" + std::string(kid) + "\"";
    return h + "}";
}

constexpr std::int64_t now = 1'700'000'000;

const std::string grants_json =
    R"("sluice":[{"types":["orders.*"],"allow":["publish","replay"]},)"
    R"({"types":"orders.*","groups":["billing"],"allow":["consume"]},{"allow":["metrics"]}])";

// Claims valid at `now`, for subject `sub`, with `extra` members appended.
std::string claims(std::string_view extra = {}, std::string_view sub = "billing-service") {
    std::string c = "{\"sub\":\"" + std::string(sub) + "\",\"iat\":" + std::to_string(now - 10) +
                    ",\"exp\":" + std::to_string(now + 300) + "," + grants_json;
    if (!extra.empty()) c += "," + std::string(extra);
    return c + "}";
}

// ---- Keys, generated once, their public halves written to a temp dir -------------------

struct pkey {
    EVP_PKEY* p = nullptr;
    pkey() = default;
    explicit pkey(EVP_PKEY* k) : p(k) { REQUIRE(p); }
    pkey(const pkey&) = delete;
    pkey& operator=(const pkey&) = delete;
    ~pkey() { EVP_PKEY_free(p); }
};

std::string pem_of(EVP_PKEY* key, bool private_key = false) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (private_key)
        REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    else
        REQUIRE(PEM_write_bio_PUBKEY(bio, key) == 1);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
}

std::string bn_param(EVP_PKEY* key, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    REQUIRE(EVP_PKEY_get_bn_param(key, name, &bn) == 1);
    int size = pad ? pad : BN_num_bytes(bn);
    std::string out(static_cast<std::size_t>(size), '\0');
    REQUIRE(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size) == size);
    BN_free(bn);
    return b64url(out);
}

std::string raw_public(EVP_PKEY* key) {
    std::size_t len = 0;
    REQUIRE(EVP_PKEY_get_raw_public_key(key, nullptr, &len) == 1);
    std::string out(len, '\0');
    REQUIRE(EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &len) ==
            1);
    return b64url(out);
}

struct test_keys {
    fs::path dir;
    pkey rsa{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})};
    pkey rsa2{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})};
    pkey ec{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
    pkey ec2{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
    pkey ec384{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")};
    pkey ec521{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521")};
    pkey ed{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")};
    pkey ed2{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")};
    std::string secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    std::string short_secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";  // 32 bytes: HS256 only

    test_keys() {
        std::random_device rd;
        dir = fs::temp_directory_path() /
              ("sluice-jwt-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(dir);
        write("secret", secret + "\n");
        write("short-secret", short_secret + "\r\n");
        write("rsa.pem", pem_of(rsa.p));
        write("ec.pem", pem_of(ec.p));
        write("ec384.pem", pem_of(ec384.p));
        write("ec521.pem", pem_of(ec521.p));
        write("ed.pem", pem_of(ed.p));
        write("jwks.json", R"({"keys":[)"
                           R"({"kty":"RSA","kid":"rsa-2","use":"sig","n":")" +
                               bn_param(rsa2.p, OSSL_PKEY_PARAM_RSA_N) + R"(","e":")" +
                               bn_param(rsa2.p, OSSL_PKEY_PARAM_RSA_E) + R"("},)" +
                               R"({"kty":"EC","kid":"ec-2","crv":"P-256","alg":"ES256","x":")" +
                               bn_param(ec2.p, OSSL_PKEY_PARAM_EC_PUB_X, 32) + R"(","y":")" +
                               bn_param(ec2.p, OSSL_PKEY_PARAM_EC_PUB_Y, 32) + R"("},)" +
                               R"({"kty":"OKP","kid":"ed-2","crv":"Ed25519","x":")" +
                               raw_public(ed2.p) + R"("},)" +
                               R"({"kty":"RSA","kid":"enc-1","use":"enc","n":")" +
                               bn_param(rsa.p, OSSL_PKEY_PARAM_RSA_N) + R"(","e":"AQAB"},)" +
                               R"({"kty":"XYZ","kid":"future-1"},)" +
                               R"({"kty":"OKP","kid":"x-1","crv":"X25519","x":"AAAA"}]})");
    }
    ~test_keys() {
        std::error_code ec_ignored;
        fs::remove_all(dir, ec_ignored);
    }
    test_keys(const test_keys&) = delete;
    test_keys& operator=(const test_keys&) = delete;

    std::string path(std::string_view name) const { return (dir / name).string(); }
    std::string write(std::string_view name, std::string_view text) const {
        std::ofstream out(dir / name, std::ios::binary);
        out << text;
        return path(name);
    }
};

test_keys& keys() {
    static test_keys k;
    return k;
}

// Secret, RSA, P-256, P-384, P-521 and Ed25519 files without kids, and the JWKS.
jwt_settings default_settings() {
    auto& k = keys();
    jwt_settings s;
    s.hmac_secrets = {{"", k.path("secret")}};
    s.public_keys = {{"", k.path("rsa.pem")},
                     {"", k.path("ec.pem")},
                     {"", k.path("ec384.pem")},
                     {"", k.path("ec521.pem")},
                     {"", k.path("ed.pem")}};
    s.jwks_file = k.path("jwks.json");
    return s;
}

jwt_verifier make_verifier(jwt_settings s) {
    auto ring = jwt_keyring::load(s);
    return jwt_verifier(std::move(s), std::move(ring));
}

const jwt_verifier& default_verifier() {
    static const jwt_verifier v = make_verifier(default_settings());
    return v;
}

void check_grants(const principal& p) {
    CHECK(p.may(action::publish, "orders.placed"));
    CHECK(p.may(action::replay, "orders.eu.placed"));
    CHECK(p.may(action::consume, "orders.placed", "billing"));
    CHECK_FALSE(p.may(action::consume, "orders.placed", "shipping"));
    CHECK_FALSE(p.may(action::publish, "users.created"));
    CHECK_FALSE(p.may(action::admin, "orders.placed"));
    CHECK(p.may(action::metrics));
}

std::string load_error(const jwt_settings& s) {
    try {
        (void)jwt_keyring::load(s);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("jwt: valid HS256, HS384 and HS512 tokens are accepted with their name and grants",
          "[jwt]") {
    for (const char* alg : {"HS256", "HS384", "HS512"}) {
        INFO(alg);
        auto token = jws(header_for(alg), claims(), alg, nullptr, keys().secret);
        auto r = default_verifier().verify(token, now);
        REQUIRE(r.ok);
        CHECK(r.why.empty());
        CHECK(r.who.name == "billing-service");
        CHECK(r.expires_at == now + 300);
        CHECK(r.who.grants.size() == 3);
        check_grants(r.who);
    }
}

TEST_CASE("jwt: valid RS, PS, ES and EdDSA tokens are accepted with their name and grants",
          "[jwt]") {
    auto& k = keys();
    struct signer {
        const char* alg;
        EVP_PKEY* key;
    };
    for (auto [alg, key] :
         {signer{"RS256", k.rsa.p}, signer{"RS384", k.rsa.p}, signer{"RS512", k.rsa.p},
          signer{"PS256", k.rsa.p}, signer{"PS384", k.rsa.p}, signer{"PS512", k.rsa.p},
          signer{"ES256", k.ec.p}, signer{"ES384", k.ec384.p}, signer{"ES512", k.ec521.p},
          signer{"EdDSA", k.ed.p}}) {
        INFO(alg);
        auto r = default_verifier().verify(jws(header_for(alg), claims(), alg, key), now);
        REQUIRE(r.ok);
        CHECK(r.who.name == "billing-service");
        check_grants(r.who);
    }
    // Without a name claim the principal is "jwt"; without permissions it may do nothing.
    auto bare =
        jws(header_for("ES256"), "{\"exp\":" + std::to_string(now + 60) + "}", "ES256", k.ec.p);
    auto r = default_verifier().verify(bare, now);
    REQUIRE(r.ok);
    CHECK(r.who.name == "jwt");
    CHECK(r.who.grants.empty());
    CHECK(r.expires_at == now + 60);
    auto no_exp = default_verifier().verify(jws(header_for("EdDSA"), "{}", "EdDSA", k.ed.p), now);
    REQUIRE(no_exp.ok);
    CHECK(no_exp.expires_at == 0);
}

TEST_CASE("jwt: a JWKS key is chosen by the token's kid", "[jwt]") {
    auto& k = keys();
    const auto& v = default_verifier();
    CHECK(v.verify(jws(header_for("RS256", "rsa-2"), claims(), "RS256", k.rsa2.p), now).ok);
    CHECK(v.verify(jws(header_for("PS256", "rsa-2"), claims(), "PS256", k.rsa2.p), now).ok);
    CHECK(v.verify(jws(header_for("ES256", "ec-2"), claims(), "ES256", k.ec2.p), now).ok);
    CHECK(v.verify(jws(header_for("EdDSA", "ed-2"), claims(), "EdDSA", k.ed2.p), now).ok);
    // The kid names one key, and only that one is tried.
    auto other = v.verify(jws(header_for("ES256", "ec-2"), claims(), "ES256", k.ec.p), now);
    CHECK_FALSE(other.ok);
    CHECK(other.why == "the token's signature is not valid");
    // A key's own "alg" member limits it, and RSA keys never verify ES*.
    auto wrong = v.verify(jws(header_for("EdDSA", "rsa-2"), claims(), "EdDSA", k.ed.p), now);
    CHECK(wrong.why == "the token's algorithm does not fit its key");
    // Encryption keys, unknown types and curves are skipped, and said so.
    auto ring = jwt_keyring::load(default_settings());
    CHECK(ring.size() == 9);
    REQUIRE(ring.skipped().size() == 3);
    CHECK(ring.skipped()[0] == "key 3 (kid \"enc-1\"): use enc");
    CHECK(ring.skipped()[1] == "key 4 (kid \"future-1\"): kty XYZ is not supported");
    CHECK(ring.skipped()[2] == "key 5 (kid \"x-1\"): curve X25519 is not supported");
    CHECK(ring.algorithms() == std::vector<std::string>{"HS256", "HS384", "HS512", "RS256", "RS384",
                                                        "RS512", "PS256", "PS384", "PS512", "ES256",
                                                        "ES384", "ES512", "EdDSA"});
    // A kid on a PEM file works the same way.
    auto s = default_settings();
    s.jwks_file.clear();
    s.public_keys[0].kid = "main";
    auto with_kid = make_verifier(s);
    CHECK(with_kid.verify(jws(header_for("RS256", "main"), claims(), "RS256", k.rsa.p), now).ok);
    CHECK(with_kid.verify(jws(header_for("RS256"), claims(), "RS256", k.rsa.p), now).ok);
}

TEST_CASE("jwt: an unknown kid is refused", "[jwt]") {
    auto r = default_verifier().verify(
        jws(header_for("RS256", "nobody"), claims(), "RS256", keys().rsa.p), now);
    CHECK_FALSE(r.ok);
    CHECK(r.why == "no key for the token's kid");
}

TEST_CASE("jwt: exp, nbf and iat are checked with the leeway", "[jwt]") {
    const auto& v = default_verifier();
    auto with = [](std::string_view c) {
        return jws(header_for("HS256"), c, "HS256", nullptr, keys().secret);
    };
    auto at = [&](std::string_view name, std::int64_t t) {
        return v.verify(with("{\"" + std::string(name) + "\":" + std::to_string(t) + "}"), now);
    };
    // exp: refused from exp + leeway (30 s) on.
    CHECK(at("exp", now - 29).ok);
    CHECK_FALSE(at("exp", now - 30).ok);
    CHECK(at("exp", now - 31).why == "the token has expired");
    CHECK(at("exp", now - 3600).why == "the token has expired");
    CHECK(v.verify(with("{\"exp\":" + std::to_string(now - 10) + ".5}"), now).ok);
    // nbf: refused while more than the leeway ahead.
    CHECK(at("nbf", now + 30).ok);
    CHECK(at("nbf", now + 31).why == "the token is not valid yet");
    CHECK(at("nbf", now - 1000).ok);
    // iat: refused when issued further in the future than the leeway.
    CHECK(at("iat", now + 30).ok);
    CHECK(at("iat", now + 31).why == "the token was issued in the future");
    CHECK(v.verify(with("{\"iat\":" + std::to_string(now + 120) + ".0}"), now).why ==
          "the token was issued in the future");
    // Not numbers.
    CHECK(v.verify(with(R"({"exp":"tomorrow"})"), now).why == "the token's exp is not a number");
    CHECK(v.verify(with(R"({"nbf":null})"), now).why == "the token's nbf is not a number");
    // A leeway of 0.
    auto s = default_settings();
    s.leeway_seconds = 0;
    auto strict = make_verifier(s);
    CHECK(strict.verify(with("{\"exp\":" + std::to_string(now + 1) + "}"), now).ok);
    CHECK_FALSE(strict.verify(with("{\"exp\":" + std::to_string(now) + "}"), now).ok);
    CHECK_FALSE(strict.verify(with("{\"nbf\":" + std::to_string(now + 1) + "}"), now).ok);
}

TEST_CASE("jwt: one changed byte makes the signature invalid", "[jwt]") {
    auto& k = keys();
    const auto& v = default_verifier();
    struct signer {
        const char* alg;
        EVP_PKEY* key;
    };
    for (auto [alg, key] :
         {signer{"HS256", nullptr}, signer{"RS256", k.rsa.p}, signer{"PS256", k.rsa.p},
          signer{"ES256", k.ec.p}, signer{"EdDSA", k.ed.p}}) {
        INFO(alg);
        auto token = jws(header_for(alg), claims(), alg, key, k.secret);
        REQUIRE(v.verify(token, now).ok);
        // A byte of the signature (not the last character, whose low bits may be unused).
        auto bad_sig = token;
        auto at = bad_sig.size() - 5;
        bad_sig[at] = bad_sig[at] == 'A' ? 'B' : 'A';
        auto r = v.verify(bad_sig, now);
        CHECK_FALSE(r.ok);
        CHECK(r.why == "the token's signature is not valid");
        // A byte of the claims: same signature over other claims.
        auto dot = token.find('.');
        auto bad_claims = token;
        bad_claims[dot + 5] = bad_claims[dot + 5] == 'A' ? 'B' : 'A';
        CHECK_FALSE(v.verify(bad_claims, now).ok);
    }
    // Other claims under a signature taken from another token.
    auto a = jws(header_for("HS256"), claims(), "HS256", nullptr, k.secret);
    auto b = jws(header_for("HS256"), claims({}, "admin"), "HS256", nullptr, k.secret);
    auto spliced = b.substr(0, b.rfind('.')) + a.substr(a.rfind('.'));
    CHECK(v.verify(spliced, now).why == "the token's signature is not valid");
}

TEST_CASE("jwt: alg none is refused in any case", "[jwt]") {
    const auto& v = default_verifier();
    for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
        INFO(alg);
        std::string header = "{\"alg\":\"" + std::string(alg) + "\"}";
        auto unsigned_token = b64url(header) + "." + b64url(claims()) + ".";
        auto r = v.verify(unsigned_token, now);
        CHECK_FALSE(r.ok);
        CHECK(r.why == "alg none is not accepted");
        // With some signature attached too.
        CHECK(v.verify(unsigned_token + "AAAA", now).why == "alg none is not accepted");
    }
    auto s = default_settings();
    s.algorithms = {"HS256", "none"};
    auto ring = jwt_keyring::load(s);
    CHECK_THROWS_AS(jwt_verifier(s, std::move(ring)), std::invalid_argument);
}

TEST_CASE("jwt: an HS256 token keyed with the RSA public key's PEM is refused", "[jwt]") {
    // Algorithm confusion: a verifier that took the RSA key's bytes as an HMAC secret
    // would accept this token.
    auto& k = keys();
    auto pem = pem_of(k.rsa.p);
    const auto& v = default_verifier();
    for (const char* alg : {"HS256", "HS384", "HS512"}) {
        auto r = v.verify(jws(header_for(alg), claims(), alg, nullptr, pem), now);
        CHECK_FALSE(r.ok);
        CHECK(r.why == "the token's signature is not valid");
    }
    // With the RSA key's kid, the HMAC algorithm does not fit the key.
    auto s = default_settings();
    s.public_keys[0].kid = "rsa-main";
    auto with_kid = make_verifier(s);
    auto r =
        with_kid.verify(jws(header_for("HS256", "rsa-main"), claims(), "HS256", nullptr, pem), now);
    CHECK(r.why == "the token's algorithm does not fit its key");
    // RSA keys only: HS* is not even allowed.
    jwt_settings rsa_only;
    rsa_only.public_keys = {{"", k.path("rsa.pem")}};
    auto rv = make_verifier(rsa_only);
    CHECK(rv.verify(jws(header_for("HS256"), claims(), "HS256", nullptr, pem), now).why ==
          "the token's algorithm is not accepted");
    CHECK(rv.verify(jws(header_for("RS256"), claims(), "RS256", k.rsa.p), now).ok);
    // A PEM key given as a secret is a load error.
    jwt_settings confused;
    confused.hmac_secrets = {{"", k.path("rsa.pem")}};
    CHECK_THAT(load_error(confused), Catch::Contains(k.path("rsa.pem")) &&
                                         Catch::Contains("holds a PEM key, not a secret"));
}

TEST_CASE("jwt: algorithms outside the allowed list are refused", "[jwt]") {
    auto& k = keys();
    auto s = default_settings();
    s.algorithms = {"RS256", "EdDSA"};
    auto v = make_verifier(s);
    CHECK(v.verify(jws(header_for("RS256"), claims(), "RS256", k.rsa.p), now).ok);
    CHECK(v.verify(jws(header_for("EdDSA"), claims(), "EdDSA", k.ed.p), now).ok);
    for (auto [alg, key] : {std::pair<const char*, EVP_PKEY*>{"PS256", k.rsa.p},
                            {"HS256", nullptr},
                            {"ES256", k.ec.p}}) {
        INFO(alg);
        auto r = v.verify(jws(header_for(alg), claims(), alg, key, k.secret), now);
        CHECK_FALSE(r.ok);
        CHECK(r.why == "the token's algorithm is not accepted");
    }
    auto r = v.verify(b64url(R"({"alg":"XS999"})") + "." + b64url("{}") + ".AAAA", now);
    CHECK(r.why == "the token's algorithm is not supported");
    // Unknown names in the settings, and allowed algorithms no key can verify.
    s.algorithms = {"rs256"};
    CHECK_THROWS_AS(make_verifier(s), std::invalid_argument);
    jwt_settings hmac_only;
    hmac_only.hmac_secrets = {{"", k.path("secret")}};
    hmac_only.algorithms = {"RS256"};
    CHECK_THROWS_AS(make_verifier(hmac_only), std::invalid_argument);
}

TEST_CASE("jwt: a secret verifies HS384 and HS512 only when it is long enough", "[jwt]") {
    auto& k = keys();
    jwt_settings s;
    s.hmac_secrets = {{"short", k.path("short-secret")}};
    auto v = make_verifier(s);
    CHECK(v.verify(jws(header_for("HS256"), claims(), "HS256", nullptr, k.short_secret), now).ok);
    CHECK(
        v.verify(jws(header_for("HS256", "short"), claims(), "HS256", nullptr, k.short_secret), now)
            .ok);
    CHECK(v.verify(jws(header_for("HS512"), claims(), "HS512", nullptr, k.short_secret), now).why ==
          "the token's algorithm is not accepted");
}

TEST_CASE("jwt: iss and aud are checked as configured", "[jwt]") {
    auto& k = keys();
    auto s = default_settings();
    s.issuer = "https://id.example.com";
    s.audience = {"sluice", "sluice-eu"};
    auto v = make_verifier(s);
    auto with = [&](std::string_view extra) {
        return v.verify(jws(header_for("ES256"), claims(extra), "ES256", k.ec.p), now);
    };
    CHECK(with(R"("iss":"https://id.example.com","aud":"sluice")").ok);
    CHECK(with(R"("iss":"https://id.example.com","aud":["other","sluice-eu"])").ok);
    CHECK(with(R"("iss":"https://id.example.com","aud":"other")").why ==
          "the token's audience is not accepted");
    CHECK(with(R"("iss":"https://id.example.com","aud":["other",7])").why ==
          "the token's audience is not accepted");
    CHECK(with(R"("iss":"https://id.example.com")").why == "the token's audience is not accepted");
    CHECK(with(R"("iss":"https://evil.example.com","aud":"sluice")").why ==
          "the token's issuer is not accepted");
    CHECK(with(R"("aud":"sluice")").why == "the token's issuer is not accepted");
    // With no audience configured, a token meant for some audience is refused (RFC 7519).
    const auto& open = default_verifier();
    CHECK(open.verify(jws(header_for("ES256"), claims(R"("aud":"x")"), "ES256", k.ec.p), now).why ==
          "the token's audience is not accepted");
    CHECK(open.verify(jws(header_for("ES256"), claims(R"("iss":"x")"), "ES256", k.ec.p), now).ok);
}

TEST_CASE("jwt: malformed tokens are refused with a reason", "[jwt]") {
    auto& k = keys();
    const auto& v = default_verifier();
    auto good = jws(header_for("HS256"), claims(), "HS256", nullptr, k.secret);
    auto why = [&](std::string_view token) {
        auto r = v.verify(token, now);
        CHECK_FALSE(r.ok);
        CHECK_FALSE(r.why.empty());
        return r.why;
    };
    auto sig_of = [&](std::string_view h, std::string_view c) {
        return jws(h, c, "HS256", nullptr, k.secret);
    };
    CHECK(why("") == "the token is empty");
    CHECK(why(good.substr(0, good.rfind('.'))) ==
          "the token is not a compact JWS (three base64url parts)");
    CHECK(why(good + ".AAAA") == "the token is not a compact JWS (three base64url parts)");
    CHECK(why("!!!." + good.substr(good.find('.') + 1)) == "the token's header is not base64url");
    CHECK(why(good.substr(0, good.find('.')) + ".a*b." + "AAAA") ==
          "the token's claims are not base64url");
    CHECK(why(good + "=") == "the token's signature is not base64url");  // no padding
    CHECK(why(good.substr(0, good.rfind('.')) + ".A") == "the token's signature is not base64url");
    // An HMAC-SHA256 signature is 43 characters, the last one with 4 unused bits: a second
    // spelling of the same bytes (unused bits set) is refused.
    auto other_spelling = good;
    auto& last = other_spelling.back();
    last = last == 'A' ? 'B' : last == 'B' ? 'A' : static_cast<char>(last ^ 1);
    CHECK(why(other_spelling) == "the token's signature is not base64url");
    CHECK(why(sig_of("not json", claims())) == "the token's header is not a JSON object");
    CHECK(why(sig_of("[1,2]", claims())) == "the token's header is not a JSON object");
    CHECK(why(sig_of(R"({"typ":"JWT"})", claims())) == "the token's header has no alg");
    CHECK(why(sig_of(R"({"alg":"HS256","alg":"none"})", claims())) ==
          "the token's header repeats a member");
    CHECK(why(sig_of(R"({"alg":"HS256","crit":["exp"]})", claims())) ==
          "the token's header has crit extensions, which are not supported");
    CHECK(why(sig_of(R"({"alg":"HS256","kid":7})", claims())) == "the token's kid is not a string");
    CHECK(why(b64url(header_for("HS256")) + "." + b64url(claims()) + ".") ==
          "the token has no signature");
    CHECK(why(sig_of(header_for("HS256"), "[1,2,3]")) ==
          "the token's claims are not a JSON object");
    CHECK(why(sig_of(header_for("HS256"), "{\"sub\":\"a\"")) ==
          "the token's claims are not a JSON object");
    CHECK(why(sig_of(header_for("HS256"), R"({"exp":1,"exp":9999999999})")) ==
          "the token's claims repeat a member");
    CHECK(why(sig_of(header_for("HS256"), R"({"sub":12})")) ==
          "the token's sub is not a usable name");
    CHECK(why(sig_of(header_for("HS256"), "{\"sub\":\"a\\nb\"}")) ==
          "the token's sub is not a usable name");
    // Over 8 KiB, refused before anything is decoded.
    auto big =
        sig_of(header_for("HS256"), claims("\"pad\":\"" + std::string(9 * 1024, 'x') + "\""));
    CHECK(big.size() > 9 * 1024);
    CHECK(why(big) == "the token is longer than 8 KiB");
    CHECK(why(std::string(9 * 1024, 'a')) == "the token is longer than 8 KiB");
    CHECK(looks_like_jwt(good));
    CHECK_FALSE(looks_like_jwt("sk_demo_local_only"));
}

TEST_CASE("jwt: a permissions claim with a bad entry refuses the token", "[jwt]") {
    auto& k = keys();
    const auto& v = default_verifier();
    auto with = [&](std::string_view perms) {
        return v.verify(
            jws(header_for("HS256"), "{\"sub\":\"x\",\"sluice\":" + std::string(perms) + "}",
                "HS256", nullptr, k.secret),
            now);
    };
    CHECK(with(R"([{"types":["*"],"allow":["admin"]}])").ok);
    CHECK(with("[]").ok);
    CHECK(with(R"([{"types":["*"],"allow":["root"]}])").why ==
          "the token's permissions have an unknown action");
    CHECK(with(R"([{"types":["*"],"allow":[]}])").why ==
          "the token's permissions have an entry without allow");
    CHECK(with(R"([{"allow":["publish"]}])").why ==
          "the token's permissions have an entry without types");
    CHECK(with(R"([{"types":["has space"],"allow":["publish"]}])").why ==
          "the token's permissions have a bad pattern (a pattern is printable ASCII without "
          "spaces)");
    CHECK(with(R"([{"types":["*"],"allow":["publish"],"extra":1}])").why ==
          "the token's permissions have an unknown member");
    CHECK(with(R"([{"types":[1],"allow":["publish"]}])").why ==
          "the token's permissions have a list that is not strings");
    CHECK(with(R"(["publish"])").why == "the token's permissions hold a non-object");
    CHECK(with(R"({"types":["*"]})").why == "the token's permissions are not an array");
    // Another claim name.
    auto s = default_settings();
    s.permissions_claim = "https://sluice.example/permissions";
    s.name_claim = "client_id";
    auto other = make_verifier(s);
    auto r = other.verify(
        jws(header_for("HS256"),
            R"({"sub":"u","client_id":"svc","https://sluice.example/permissions":[{"types":["a"],"allow":["publish"]}]})",
            "HS256", nullptr, k.secret),
        now);
    REQUIRE(r.ok);
    CHECK(r.who.name == "svc");
    CHECK(r.who.may(action::publish, "a"));
}

TEST_CASE("jwt: keyring load errors name the file and what is wrong", "[jwt]") {
    auto& k = keys();
    auto error_for = [&](auto fill) {
        jwt_settings s;
        fill(s);
        return load_error(s);
    };
    auto short_path = k.write("too-short", std::string(31, 's') + "\n");
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.hmac_secrets = {{"", short_path}};
               }),
               Catch::Contains(short_path) && Catch::Contains("holds 31 bytes"));
    auto missing = k.path("missing.pem");
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", missing}};
               }),
               Catch::Contains(missing) && Catch::Contains("cannot be read"));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.hmac_secrets = {{"", missing}};
               }),
               Catch::Contains(missing) && Catch::Contains("cannot be read"));
    auto private_pem = k.write("private.pem", pem_of(k.ec.p, true));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", private_pem}};
               }),
               Catch::Contains(private_pem) && Catch::Contains("private key"));
    auto garbage = k.write("garbage.pem", "this is not a key\n");
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", garbage}};
               }),
               Catch::Contains(garbage) && Catch::Contains("is not PEM"));
    auto broken =
        k.write("broken.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", broken}};
               }),
               Catch::Contains(broken) && Catch::Contains("is not a PEM public key"));
    pkey small{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024})};
    auto small_pem = k.write("rsa1024.pem", pem_of(small.p));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", small_pem}};
               }),
               Catch::Contains(small_pem) && Catch::Contains("1024 bits"));
    pkey k1{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1")};
    auto k1_pem = k.write("secp256k1.pem", pem_of(k1.p));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", k1_pem}};
               }),
               Catch::Contains(k1_pem) && Catch::Contains("curve secp256k1"));
    pkey x{EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")};
    auto x_pem = k.write("x25519.pem", pem_of(x.p));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"", x_pem}};
               }),
               Catch::Contains(x_pem) && Catch::Contains("unsupported key type"));
    // JWKS.
    auto not_json = k.write("bad.jwks", "{\"keys\": [");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = not_json; }),
               Catch::Contains(not_json) && Catch::Contains("is not JSON"));
    auto no_keys = k.write("nokeys.jwks", "{\"kty\":\"RSA\"}");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = no_keys; }),
               Catch::Contains(no_keys) && Catch::Contains("has no \"keys\" array"));
    auto no_n = k.write("non.jwks", R"({"keys":[{"kty":"RSA","kid":"a","e":"AQAB"}]})");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = no_n; }),
               Catch::Contains(no_n) && Catch::Contains("key 0 (kid \"a\"): has no \"n\""));
    auto no_kty = k.write("nokty.jwks", R"({"keys":[{"kid":"a","n":"AQAB","e":"AQAB"}]})");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = no_kty; }),
               Catch::Contains(no_kty) && Catch::Contains("has no \"kty\""));
    auto bad_x = k.write("badx.jwks", R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = bad_x; }),
               Catch::Contains(bad_x) && Catch::Contains("\"x\" is not 32 bytes"));
    auto only_enc =
        k.write("enc.jwks", R"({"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]})");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = only_enc; }),
               Catch::Contains(only_enc) && Catch::Contains("no usable key"));
    auto with_d = k.write("private.jwks", R"({"keys":[{"kty":"EC","crv":"P-256","d":"AAAA"}]})");
    CHECK_THAT(error_for([&](jwt_settings& s) { s.jwks_file = with_d; }),
               Catch::Contains(with_d) && Catch::Contains("holds a private key (\"d\")"));
    // A kid used twice.
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"one", k.path("rsa.pem")}, {"one", k.path("ec.pem")}};
               }),
               Catch::Contains(k.path("ec.pem")) && Catch::Contains("kid \"one\" is already used"));
    CHECK_THAT(error_for([&](jwt_settings& s) {
                   s.public_keys = {{"ec-2", k.path("ec.pem")}};
                   s.jwks_file = k.path("jwks.json");
               }),
               Catch::Contains(k.path("jwks.json")) && Catch::Contains("kid \"ec-2\""));
    // Nothing at all.
    CHECK_THAT(error_for([](jwt_settings&) {}), Catch::Contains("no key"));
}

TEST_CASE("jwt: verify timings, run by hand", "[.][jwt-timing]") {
    auto& k = keys();
    const auto& v = default_verifier();
    auto rs = jws(header_for("RS256"), claims(), "RS256", k.rsa.p);
    auto hs = jws(header_for("HS256"), claims(), "HS256", nullptr, k.secret);
    auto es = jws(header_for("ES256"), claims(), "ES256", k.ec.p);
    auto ed = jws(header_for("EdDSA"), claims(), "EdDSA", k.ed.p);
    for (auto [name, token] : {std::pair<const char*, std::string*>{"RS256", &rs},
                               {"HS256", &hs},
                               {"ES256", &es},
                               {"EdDSA", &ed}}) {
        REQUIRE(v.verify(*token, now).ok);
        constexpr int rounds = 2000;
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < rounds; ++i) REQUIRE(v.verify(*token, now).ok);
        std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
        WARN(name << ": " << took.count() / rounds << " us per verify");
    }
}
