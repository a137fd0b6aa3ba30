#include "auth/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sluice::auth {
namespace {

// ---- OpenSSL ownership -------------------------------------------------------------

template <typename T, void (*Free)(T*)>
struct freer {
    void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using owned = std::unique_ptr<T, freer<T, Free>>;

using pkey_ptr = owned<EVP_PKEY, EVP_PKEY_free>;
using pkey_ctx_ptr = owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using md_ctx_ptr = owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using mac_ctx_ptr = owned<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using bn_ptr = owned<BIGNUM, BN_free>;
using param_bld_ptr = owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using params_ptr = owned<OSSL_PARAM, OSSL_PARAM_free>;
using decoder_ptr = owned<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;
using ecdsa_sig_ptr = owned<ECDSA_SIG, ECDSA_SIG_free>;

// ---- Algorithms (RFC 7518 section 3.1, RFC 8037 section 3.1) ----------------------

enum class family : std::uint8_t { hmac, rsa, pss, ecdsa, eddsa };

struct algorithm {
    std::string_view name;
    family kind;
    int digest;        // index into crypto::digests (SHA-256, -384, -512); -1 for EdDSA
    std::size_t size;  // HMAC: the MAC's bytes; ECDSA: the bytes of R (and of S)
};

constexpr std::array<algorithm, 13> algorithm_table{{
    {"HS256", family::hmac, 0, 32},
    {"HS384", family::hmac, 1, 48},
    {"HS512", family::hmac, 2, 64},
    {"RS256", family::rsa, 0, 0},
    {"RS384", family::rsa, 1, 0},
    {"RS512", family::rsa, 2, 0},
    {"PS256", family::pss, 0, 0},
    {"PS384", family::pss, 1, 0},
    {"PS512", family::pss, 2, 0},
    {"ES256", family::ecdsa, 0, 32},
    {"ES384", family::ecdsa, 1, 48},
    {"ES512", family::ecdsa, 2, 66},
    {"EdDSA", family::eddsa, -1, 64},
}};

using alg_mask = std::uint32_t;
constexpr alg_mask bit(std::size_t index) {
    return alg_mask{1} << index;
}

std::optional<std::size_t> algorithm_index(std::string_view name) {
    for (std::size_t i = 0; i < algorithm_table.size(); ++i)
        if (algorithm_table[i].name == name) return i;
    return std::nullopt;
}

alg_mask family_mask(family f) {
    alg_mask m = 0;
    for (std::size_t i = 0; i < algorithm_table.size(); ++i)
        if (algorithm_table[i].kind == f) m |= bit(i);
    return m;
}

std::string algorithm_names(alg_mask m) {
    std::string out;
    for (std::size_t i = 0; i < algorithm_table.size(); ++i)
        if (m & bit(i)) {
            if (!out.empty()) out += ", ";
            out += algorithm_table[i].name;
        }
    return out;
}

// The digests and the HMAC implementation, fetched once: an implicit fetch per token
// costs more than the HMAC itself.
struct crypto {
    std::array<EVP_MD*, 3> digests{};
    EVP_MAC* hmac = nullptr;

    crypto() {
        digests[0] = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        digests[1] = EVP_MD_fetch(nullptr, "SHA384", nullptr);
        digests[2] = EVP_MD_fetch(nullptr, "SHA512", nullptr);
        hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    }
    ~crypto() {
        for (auto* d : digests) EVP_MD_free(d);
        EVP_MAC_free(hmac);
    }
    crypto(const crypto&) = delete;
    crypto& operator=(const crypto&) = delete;

    static const crypto& get() {
        static const crypto c;
        if (!c.hmac || !c.digests[0] || !c.digests[1] || !c.digests[2])
            throw std::runtime_error("OpenSSL has no SHA-2 or HMAC");
        return c;
    }
};

constexpr const char* digest_names[3] = {"SHA256", "SHA384", "SHA512"};

// ---- base64url (RFC 4648 section 5), strict ---------------------------------------

constexpr std::array<signed char, 256> base64url_values = [] {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}();

// No padding, nothing outside the alphabet, and the unused low bits of the last
// character zero: one spelling per byte string.
bool base64url_decode(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 == 1) return false;
    out.reserve(in.size() / 4 * 3 + 2 + simdjson::SIMDJSON_PADDING);  // simdjson parses it in place
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = base64url_values[static_cast<unsigned char>(c)];
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xffu));
            acc &= (1u << bits) - 1u;
        }
    }
    return acc == 0;
}

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// ---- Keys -------------------------------------------------------------------------

struct jwt_key {
    std::string kid;
    std::string source;  // for messages: which file (and which JWKS entry)
    alg_mask algs = 0;
    pkey_ptr pkey;                    // a public key
    std::array<mac_ctx_ptr, 3> hmac;  // a secret: keyed per digest, duplicated per token
};

constexpr std::size_t max_file_size = 1 << 20;

std::string read_file(const std::string& path, const std::string& what) {
    if (path.empty()) throw std::runtime_error(what + ": no path given");
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw std::runtime_error(what + " " + path + ": cannot be read (" +
                                 std::generic_category().message(errno) + ")");
    std::string out;
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        out.append(buf.data(), n);
        if (out.size() > max_file_size) {
            std::fclose(f);
            throw std::runtime_error(what + " " + path + ": is larger than 1 MiB");
        }
    }
    int err = errno;
    bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed)
        throw std::runtime_error(what + " " + path + ": cannot be read (" +
                                 std::generic_category().message(err) + ")");
    return out;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    ERR_clear_error();
    throw std::runtime_error(where + ": " + what);
}

void check_public(EVP_PKEY* key, const std::string& where) {
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) fail(where, "the public key is not valid");
}

// What a public key may verify: RSA RS* and PS* (an RSA-PSS key only PS*), EC the ES*
// of its curve, Ed25519 EdDSA.
alg_mask algorithms_of(EVP_PKEY* key, const std::string& where) {
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits < 2048)
            fail(where, "an RSA key of " + std::to_string(bits) +
                            " bits; JWT needs 2048 bits or more (RFC 7518)");
        if (EVP_PKEY_is_a(key, "RSA-PSS")) return family_mask(family::pss);
        return family_mask(family::rsa) | family_mask(family::pss);
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        std::array<char, 80> name{};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, name.data(), name.size(), &len) != 1)
            fail(where, "an EC key without a named curve; JWT uses P-256, P-384 or P-521");
        std::string_view curve(name.data(), len);
        if (curve == "prime256v1") return bit(*algorithm_index("ES256"));
        if (curve == "secp384r1") return bit(*algorithm_index("ES384"));
        if (curve == "secp521r1") return bit(*algorithm_index("ES512"));
        fail(where,
             "an EC key on curve " + std::string(curve) + "; JWT uses P-256, P-384 or P-521");
    }
    if (EVP_PKEY_is_a(key, "ED25519")) return bit(*algorithm_index("EdDSA"));
    const char* type = EVP_PKEY_get0_type_name(key);
    fail(where, std::string("an unsupported key type (") + (type ? type : "unknown") +
                    "); JWT keys are RSA, EC or Ed25519");
}

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

jwt_key load_secret(const jwt_key_file& file) {
    std::string where = "JWT secret " + file.path;
    std::string text = read_file(file.path, "JWT secret");
    if (!text.empty() && text.back() == '\n') {
        text.pop_back();
        if (!text.empty() && text.back() == '\r') text.pop_back();
    }
    struct cleanse {
        std::string& s;
        ~cleanse() { OPENSSL_cleanse(s.data(), s.size()); }
    } wipe{text};
    if (text.starts_with("-----BEGIN"))
        fail(where, "holds a PEM key, not a secret; list public keys under public_keys");
    if (text.size() < 32)
        fail(where, "holds " + std::to_string(text.size()) +
                        " bytes; a secret is at least 32 bytes (e.g. openssl rand -base64 48)");
    jwt_key key;
    key.kid = file.kid;
    key.source = where;
    const auto& c = crypto::get();
    for (std::size_t i = 0; i < algorithm_table.size(); ++i) {
        const auto& a = algorithm_table[i];
        // RFC 7518 section 3.2: a key at least as long as the hash output.
        if (a.kind != family::hmac || text.size() < a.size) continue;
        auto d = static_cast<std::size_t>(a.digest);
        mac_ctx_ptr ctx(EVP_MAC_CTX_new(c.hmac));
        std::array<OSSL_PARAM, 2> params{
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                             const_cast<char*>(digest_names[d]), 0),
            OSSL_PARAM_construct_end()};
        if (!ctx || EVP_MAC_init(ctx.get(), bytes(text), text.size(), params.data()) != 1)
            fail(where, "OpenSSL cannot key HMAC with it");
        key.hmac[d] = std::move(ctx);
        key.algs |= bit(i);
    }
    return key;
}

pkey_ptr decode_pem_public_key(std::string_view text, const std::string& where) {
    if (text.find("PRIVATE KEY-----") != std::string_view::npos)
        fail(where, "holds a private key; give the public key (openssl pkey -pubout)");
    if (text.find("-----BEGIN CERTIFICATE") != std::string_view::npos)
        fail(where, "holds a certificate; give its public key (openssl x509 -pubkey -noout)");
    auto blocks = count(text, "-----BEGIN ");
    if (blocks == 0) fail(where, "is not PEM (no -----BEGIN line)");
    if (blocks > 1) fail(where, "holds more than one PEM block; give one public key per file");
    EVP_PKEY* raw = nullptr;
    decoder_ptr dec(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr,
                                                  EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
    if (!dec) fail(where, "OpenSSL has no PEM decoder");
    const auto* data = bytes(text);
    std::size_t len = text.size();
    if (OSSL_DECODER_from_data(dec.get(), &data, &len) != 1 || !raw)
        fail(where, "is not a PEM public key OpenSSL can read");
    return pkey_ptr(raw);
}

jwt_key load_public(const jwt_key_file& file) {
    std::string where = "JWT public key " + file.path;
    std::string text = read_file(file.path, "JWT public key");
    jwt_key key;
    key.kid = file.kid;
    key.source = where;
    key.pkey = decode_pem_public_key(text, where);
    key.algs = algorithms_of(key.pkey.get(), where);
    check_public(key.pkey.get(), where);
    return key;
}

// ---- JWKS (RFC 7517, RFC 7518 section 6, RFC 8037 section 2) ---------------------

using namespace simdjson;

// A member that must be a base64url string.
std::string jwk_bytes(dom::object jwk, std::string_view name, const std::string& where) {
    dom::element e;
    if (jwk.at_key(name).get(e)) fail(where, "has no \"" + std::string(name) + "\"");
    std::string_view s;
    std::string out;
    if (e.get_string().get(s) || s.empty() || !base64url_decode(s, out))
        fail(where, "\"" + std::string(name) + "\" is not a base64url string");
    return out;
}

// An optional string member; throws when it is there and not a string.
std::optional<std::string_view> jwk_string(dom::object jwk, std::string_view name,
                                           const std::string& where) {
    dom::element e;
    if (jwk.at_key(name).get(e)) return std::nullopt;
    std::string_view s;
    if (e.get_string().get(s)) fail(where, "\"" + std::string(name) + "\" is not a string");
    return s;
}

pkey_ptr pkey_from_params(const char* type, OSSL_PARAM_BLD* bld, const std::string& where) {
    params_ptr params(OSSL_PARAM_BLD_to_param(bld));
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !raw)
        fail(where, "is not a valid public key");
    return pkey_ptr(raw);
}

pkey_ptr jwk_rsa(dom::object jwk, const std::string& where) {
    auto n = jwk_bytes(jwk, "n", where);
    auto e = jwk_bytes(jwk, "e", where);
    bn_ptr bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
    bn_ptr bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
        fail(where, "OpenSSL cannot build the RSA key");
    return pkey_from_params("RSA", bld.get(), where);
}

pkey_ptr jwk_ec(dom::object jwk, const char* group, std::size_t size, const std::string& where) {
    auto x = jwk_bytes(jwk, "x", where);
    auto y = jwk_bytes(jwk, "y", where);
    if (x.size() != size || y.size() != size)
        fail(where, "\"x\" and \"y\" are not " + std::to_string(size) + " bytes each");
    std::string point = "\x04" + x + y;  // uncompressed (SEC 1 section 2.3.3)
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1)
        fail(where, "OpenSSL cannot build the EC key");
    return pkey_from_params("EC", bld.get(), where);
}

pkey_ptr jwk_ed25519(dom::object jwk, const std::string& where) {
    auto x = jwk_bytes(jwk, "x", where);
    if (x.size() != 32) fail(where, "\"x\" is not 32 bytes");
    pkey_ptr key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, bytes(x), x.size()));
    if (!key) fail(where, "is not a valid public key");
    return key;
}

// One entry of "keys": a key, or nothing with the reason in `skipped`.
std::optional<jwt_key> load_jwk(dom::element entry, const std::string& file, std::size_t index,
                                std::string& skipped) {
    std::string label = "key " + std::to_string(index);
    std::string where = "JWKS file " + file + ": " + label;
    dom::object jwk;
    if (entry.get_object().get(jwk)) fail(where, "is not a JSON object");
    auto kid = jwk_string(jwk, "kid", where);
    if (kid) {
        label += " (kid \"" + std::string(*kid) + "\")";
        where = "JWKS file " + file + ": " + label;
    }
    auto kty = jwk_string(jwk, "kty", where);
    if (!kty) fail(where, "has no \"kty\"");
    auto skip = [&](const std::string& why) {
        skipped = label + ": " + why;
        return std::nullopt;
    };
    if (auto use = jwk_string(jwk, "use", where); use && *use != "sig")
        return skip("use " + std::string(*use));
    if (dom::element ops; !jwk.at_key("key_ops").get(ops)) {
        dom::array list;
        if (ops.get_array().get(list)) fail(where, "\"key_ops\" is not an array");
        bool verify = false;
        for (dom::element op : list) {
            std::string_view s;
            if (!op.get_string().get(s) && s == "verify") verify = true;
        }
        if (!verify) return skip("key_ops without verify");
    }
    std::optional<std::size_t> only;
    if (auto alg = jwk_string(jwk, "alg", where)) {
        only = algorithm_index(*alg);
        if (!only) return skip("alg " + std::string(*alg) + " is not a signature algorithm");
    }
    if (*kty == "oct") return skip("kty oct (secrets belong in hmac_secrets)");
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi"})
        if (dom::element e; !jwk.at_key(secret).get(e))
            fail(where,
                 std::string("holds a private key (\"") + secret + "\"); give the public JWKS");

    jwt_key key;
    key.kid = kid ? std::string(*kid) : std::string();
    key.source = where;
    if (*kty == "RSA") {
        key.pkey = jwk_rsa(jwk, where);
    } else if (*kty == "EC") {
        auto crv = jwk_string(jwk, "crv", where);
        if (!crv) fail(where, "has no \"crv\"");
        if (*crv == "P-256")
            key.pkey = jwk_ec(jwk, "prime256v1", 32, where);
        else if (*crv == "P-384")
            key.pkey = jwk_ec(jwk, "secp384r1", 48, where);
        else if (*crv == "P-521")
            key.pkey = jwk_ec(jwk, "secp521r1", 66, where);
        else
            return skip("curve " + std::string(*crv) + " is not supported");
    } else if (*kty == "OKP") {
        auto crv = jwk_string(jwk, "crv", where);
        if (!crv) fail(where, "has no \"crv\"");
        if (*crv != "Ed25519") return skip("curve " + std::string(*crv) + " is not supported");
        key.pkey = jwk_ed25519(jwk, where);
    } else {
        return skip("kty " + std::string(*kty) + " is not supported");
    }
    key.algs = algorithms_of(key.pkey.get(), where);
    check_public(key.pkey.get(), where);
    if (only) {
        if (!(key.algs & bit(*only)))
            return skip("alg " + std::string(algorithm_table[*only].name) + " does not fit kty " +
                        std::string(*kty));
        key.algs = bit(*only);
    }
    return key;
}

}  // namespace

struct jwt_keyring::impl {
    std::vector<jwt_key> keys;
    std::vector<std::string> skipped;

    void add(jwt_key key) {
        if (!key.kid.empty())
            for (const auto& other : keys)
                if (other.kid == key.kid)
                    throw std::runtime_error(key.source + ": kid \"" + key.kid +
                                             "\" is already used by " + other.source);
        keys.push_back(std::move(key));
    }
};

namespace {

void load_jwks(const std::string& path, jwt_keyring::impl& ring) {
    std::string text = read_file(path, "JWKS file");
    std::string where = "JWKS file " + path;
    dom::parser parser;
    dom::element root;
    if (auto err = parser.parse(text.data(), text.size(), true).get(root))
        fail(where, std::string("is not JSON (") + error_message(err) + ")");
    dom::object top;
    dom::array keys;
    if (root.get_object().get(top)) fail(where, "is not a JSON object");
    if (top.at_key("keys").get_array().get(keys)) fail(where, "has no \"keys\" array");
    std::size_t index = 0;
    for (dom::element entry : keys) {
        std::string skipped;
        if (auto key = load_jwk(entry, path, index++, skipped))
            ring.add(std::move(*key));
        else
            ring.skipped.push_back(std::move(skipped));
    }
}

}  // namespace

jwt_keyring::jwt_keyring() : impl_(std::make_unique<impl>()) {}
jwt_keyring::jwt_keyring(jwt_keyring&&) noexcept = default;
jwt_keyring& jwt_keyring::operator=(jwt_keyring&&) noexcept = default;
jwt_keyring::~jwt_keyring() = default;

jwt_keyring jwt_keyring::load(const jwt_settings& settings) {
    jwt_keyring ring;
    for (const auto& f : settings.hmac_secrets) ring.impl_->add(load_secret(f));
    for (const auto& f : settings.public_keys) ring.impl_->add(load_public(f));
    if (!settings.jwks_file.empty()) load_jwks(settings.jwks_file, *ring.impl_);
    if (ring.impl_->keys.empty())
        throw std::runtime_error(settings.jwks_file.empty()
                                     ? std::string("JWT: no key given to verify tokens with")
                                     : "JWT: no key to verify tokens with (JWKS file " +
                                           settings.jwks_file + " has no usable key)");
    return ring;
}

std::size_t jwt_keyring::size() const {
    return impl_ ? impl_->keys.size() : 0;
}

std::vector<std::string> jwt_keyring::algorithms() const {
    alg_mask m = 0;
    if (impl_)
        for (const auto& k : impl_->keys) m |= k.algs;
    std::vector<std::string> out;
    for (std::size_t i = 0; i < algorithm_table.size(); ++i)
        if (m & bit(i)) out.emplace_back(algorithm_table[i].name);
    return out;
}

const std::vector<std::string>& jwt_keyring::skipped() const {
    static const std::vector<std::string> none;
    return impl_ ? impl_->skipped : none;
}

// ---- Verification -----------------------------------------------------------------

namespace {

constexpr std::size_t max_token_size = 8192;
constexpr std::size_t max_keys_without_kid = 4;
constexpr std::int64_t time_limit = std::int64_t{1} << 62;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

// ECDSA in JWS is R||S, each the curve's size (RFC 7518 section 3.4); OpenSSL wants DER.
std::string ecdsa_der(std::string_view raw) {
    auto half = static_cast<int>(raw.size() / 2);
    ecdsa_sig_ptr sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes(raw), half, nullptr);
    BIGNUM* s = BN_bin2bn(bytes(raw) + half, half, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) return {};
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(sig.get(), &out) != len) return {};
    return der;
}

bool verify_hmac(const jwt_key& key, const algorithm& a, std::string_view input,
                 std::string_view sig) {
    const auto& keyed = key.hmac[static_cast<std::size_t>(a.digest)];
    if (!keyed || sig.size() != a.size) return false;
    mac_ctx_ptr ctx(EVP_MAC_CTX_dup(keyed.get()));
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    std::size_t len = 0;
    if (!ctx || EVP_MAC_update(ctx.get(), bytes(input), input.size()) != 1 ||
        EVP_MAC_final(ctx.get(), mac.data(), &len, mac.size()) != 1 || len != a.size)
        return false;
    return CRYPTO_memcmp(mac.data(), sig.data(), len) == 0;
}

bool verify_public(const jwt_key& key, const algorithm& a, std::string_view input,
                   std::string_view sig) {
    EVP_PKEY* pkey = key.pkey.get();
    if (!pkey) return false;
    std::string der;
    switch (a.kind) {
        case family::rsa:
        case family::pss:
            if (sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) return false;
            break;
        case family::ecdsa:
            if (sig.size() != 2 * a.size) return false;
            der = ecdsa_der(sig);
            if (der.empty()) return false;
            sig = der;
            break;
        case family::eddsa:
            if (sig.size() != a.size) return false;
            break;
        case family::hmac:
            return false;
    }
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx) return false;
    EVP_PKEY_CTX* pctx = nullptr;
    const EVP_MD* md =
        a.digest < 0 ? nullptr : crypto::get().digests[static_cast<std::size_t>(a.digest)];
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) return false;
    if (a.kind == family::pss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
        return false;
    return EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(input), input.size()) == 1;
}

bool verify_with(const jwt_key& key, const algorithm& a, std::string_view input,
                 std::string_view sig) {
    bool ok = a.kind == family::hmac ? verify_hmac(key, a, input, sig)
                                     : verify_public(key, a, input, sig);
    if (!ok) ERR_clear_error();  // leave no stale error for the next OpenSSL user
    return ok;
}

dom::parser& json_parser() {
    thread_local dom::parser parser;
    return parser;
}

bool has_duplicate_member(dom::object o) {
    std::vector<std::string_view> names;
    names.reserve(o.size());
    for (auto field : o) names.push_back(field.key);
    std::sort(names.begin(), names.end());
    return std::adjacent_find(names.begin(), names.end()) != names.end();
}

enum class presence : std::uint8_t { absent, present, bad };

// A NumericDate (RFC 7519 section 2), clamped, rounded down (`up`: up) when not whole.
presence read_time(dom::object claims, std::string_view name, bool up, std::int64_t& out) {
    dom::element e;
    if (claims.at_key(name).get(e)) return presence::absent;
    double d = 0;
    switch (e.type()) {
        case dom::element_type::INT64:
            out = std::clamp(e.get_int64().value_unsafe(), -time_limit, time_limit);
            return presence::present;
        case dom::element_type::UINT64:
            out = time_limit;
            return presence::present;
        case dom::element_type::DOUBLE:
            d = e.get_double().value_unsafe();
            d = up ? std::ceil(d) : std::floor(d);
            if (d >= static_cast<double>(time_limit))
                out = time_limit;
            else if (d <= -static_cast<double>(time_limit))
                out = -time_limit;
            else
                out = static_cast<std::int64_t>(d);
            return presence::present;
        default:
            return presence::bad;
    }
}

// A string or an array of strings; false when it is something else.
bool read_strings(dom::element e, std::vector<std::string>& out) {
    std::string_view s;
    if (!e.get_string().get(s)) {
        out.emplace_back(s);
        return true;
    }
    dom::array list;
    if (e.get_array().get(list)) return false;
    for (dom::element item : list) {
        if (item.get_string().get(s)) return false;
        out.emplace_back(s);
    }
    return true;
}

// The permissions claim, as the config's permissions (config/loader.cpp); empty when
// good, else why not.
std::string read_grants(dom::element claim, std::vector<grant>& out) {
    dom::array entries;
    if (claim.get_array().get(entries)) return "the token's permissions are not an array";
    for (dom::element entry : entries) {
        dom::object o;
        if (entry.get_object().get(o)) return "the token's permissions hold a non-object";
        grant g;
        std::vector<std::string> actions;
        unsigned seen = 0;
        for (auto field : o) {
            unsigned which = field.key == "types"    ? 1u
                             : field.key == "groups" ? 2u
                             : field.key == "allow"  ? 4u
                                                     : 0u;
            if (which == 0) return "the token's permissions have an unknown member";
            if (seen & which) return "the token's permissions have a duplicate member";
            seen |= which;
            auto& list = which == 1 ? g.types : which == 2 ? g.groups : actions;
            if (!read_strings(field.value, list))
                return "the token's permissions have a list that is not strings";
        }
        for (const auto* list : {&g.types, &g.groups})
            for (const auto& pattern : *list)
                if (auto why = pattern_problem(pattern); !why.empty())
                    return "the token's permissions have a bad pattern (" + why + ")";
        if (actions.empty()) return "the token's permissions have an entry without allow";
        for (const auto& a : actions) {
            auto act = action_named(a);
            if (!act) return "the token's permissions have an unknown action";
            g.allow |= static_cast<action_set>(*act);
        }
        if (g.types.empty() && g.allow != static_cast<action_set>(action::metrics))
            return "the token's permissions have an entry without types";
        out.push_back(std::move(g));
    }
    return {};
}

bool usable_name(std::string_view name) {
    if (name.size() > 256) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f;
    });
}

jwt_result refuse(std::string why) {
    jwt_result r;
    r.why = std::move(why);
    return r;
}

}  // namespace

jwt_verifier::jwt_verifier(jwt_settings settings, jwt_keyring keys)
    : settings_(std::move(settings)), keys_(std::move(keys)) {
    if (!keys_.impl_) throw std::invalid_argument("JWT: the keyring was moved from");
    alg_mask have = 0;
    for (const auto& k : keys_.impl_->keys) have |= k.algs;
    alg_mask want = ~alg_mask{0};
    if (!settings_.algorithms.empty()) {
        want = 0;
        for (const auto& name : settings_.algorithms) {
            if (iequals(name, "none"))
                throw std::invalid_argument("JWT algorithm \"none\" cannot be allowed");
            auto i = algorithm_index(name);
            if (!i)
                throw std::invalid_argument("unknown JWT algorithm \"" + name + "\" (expected " +
                                            algorithm_names(~alg_mask{0}) + ")");
            want |= bit(*i);
        }
    }
    allowed_ = have & want;
    if (allowed_ == 0)
        throw std::invalid_argument("JWT: no loaded key can verify the allowed algorithms (" +
                                    algorithm_names(want) + "); the keys verify " +
                                    algorithm_names(have));
    if (settings_.leeway_seconds < 0 || settings_.leeway_seconds > 86400)
        throw std::invalid_argument("JWT leeway must be between 0 and 86400 seconds");
    if (settings_.permissions_claim.empty() || settings_.name_claim.empty())
        throw std::invalid_argument("JWT: the permissions and name claims need names");
}

jwt_result jwt_verifier::verify(std::string_view token, std::int64_t now) const {
    if (token.empty()) return refuse("the token is empty");
    if (token.size() > max_token_size) return refuse("the token is longer than 8 KiB");
    auto dot1 = token.find('.');
    auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
        return refuse("the token is not a compact JWS (three base64url parts)");
    auto header_part = token.substr(0, dot1);
    auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
    auto signature_part = token.substr(dot2 + 1);
    auto signing_input = token.substr(0, dot2);

    std::string header_json, payload_json, signature;
    if (!base64url_decode(header_part, header_json))
        return refuse("the token's header is not base64url");
    if (!base64url_decode(payload_part, payload_json))
        return refuse("the token's claims are not base64url");
    if (!base64url_decode(signature_part, signature))
        return refuse("the token's signature is not base64url");

    auto& parser = json_parser();
    std::size_t alg = 0;
    std::string kid;
    bool has_kid = false;
    {
        dom::element root;
        dom::object header;
        if (parser.parse(header_json).get(root) || root.get_object().get(header))
            return refuse("the token's header is not a JSON object");
        if (has_duplicate_member(header)) return refuse("the token's header repeats a member");
        std::string_view name;
        dom::element e;
        if (header.at_key("alg").get(e) || e.get_string().get(name))
            return refuse("the token's header has no alg");
        if (iequals(name, "none")) return refuse("alg none is not accepted");
        auto i = algorithm_index(name);
        if (!i) return refuse("the token's algorithm is not supported");
        if (!(allowed_ & bit(*i))) return refuse("the token's algorithm is not accepted");
        alg = *i;
        if (!header.at_key("crit").get(e))
            return refuse("the token's header has crit extensions, which are not supported");
        if (!header.at_key("kid").get(e)) {
            std::string_view k;
            if (e.get_string().get(k)) return refuse("the token's kid is not a string");
            kid.assign(k);
            has_kid = true;
        }
        if (!header.at_key("typ").get(e) && !e.is_string())
            return refuse("the token's typ is not a string");
    }
    if (signature.empty()) return refuse("the token has no signature");

    const auto& a = algorithm_table[alg];
    const auto& keys = keys_.impl_->keys;
    bool verified = false;
    if (has_kid) {
        auto found = std::find_if(keys.begin(), keys.end(),
                                  [&](const jwt_key& k) { return !k.kid.empty() && k.kid == kid; });
        if (found == keys.end()) return refuse("no key for the token's kid");
        if (!(found->algs & bit(alg))) return refuse("the token's algorithm does not fit its key");
        verified = verify_with(*found, a, signing_input, signature);
    } else {
        std::size_t tried = 0;
        for (const auto& k : keys) {
            if (!(k.algs & bit(alg))) continue;
            if (verify_with(k, a, signing_input, signature)) {
                verified = true;
                break;
            }
            if (++tried == max_keys_without_kid) break;
        }
        if (tried == 0 && !verified) return refuse("no key for the token's algorithm");
    }
    if (!verified) return refuse("the token's signature is not valid");

    dom::element root;
    dom::object claims;
    if (parser.parse(payload_json).get(root) || root.get_object().get(claims))
        return refuse("the token's claims are not a JSON object");
    if (has_duplicate_member(claims)) return refuse("the token's claims repeat a member");

    now = std::clamp(now, -time_limit, time_limit);
    const std::int64_t leeway = settings_.leeway_seconds;
    std::int64_t exp = 0, nbf = 0, iat = 0;
    switch (read_time(claims, "exp", false, exp)) {
        case presence::bad:
            return refuse("the token's exp is not a number");
        case presence::present:
            if (now >= exp + leeway) return refuse("the token has expired");
            break;
        case presence::absent:
            exp = 0;
            break;
    }
    switch (read_time(claims, "nbf", true, nbf)) {
        case presence::bad:
            return refuse("the token's nbf is not a number");
        case presence::present:
            if (now + leeway < nbf) return refuse("the token is not valid yet");
            break;
        case presence::absent:
            break;
    }
    switch (read_time(claims, "iat", true, iat)) {
        case presence::bad:
            return refuse("the token's iat is not a number");
        case presence::present:
            if (iat > now + leeway) return refuse("the token was issued in the future");
            break;
        case presence::absent:
            break;
    }

    if (!settings_.issuer.empty()) {
        std::string_view iss;
        if (claims.at_key("iss").get_string().get(iss) || iss != settings_.issuer)
            return refuse("the token's issuer is not accepted");
    }

    dom::element aud;
    bool has_aud = !claims.at_key("aud").get(aud);
    if (has_aud || !settings_.audience.empty()) {
        std::vector<std::string> auds;
        bool fits = false;
        if (has_aud && read_strings(aud, auds))
            for (const auto& x : auds)
                if (std::find(settings_.audience.begin(), settings_.audience.end(), x) !=
                    settings_.audience.end())
                    fits = true;
        if (!fits) return refuse("the token's audience is not accepted");
    }

    jwt_result result;
    result.who.name = "jwt";
    if (dom::element e; !claims.at_key(settings_.name_claim).get(e) && !e.is_null()) {
        std::string_view name;
        if (e.get_string().get(name) || !usable_name(name))
            return refuse("the token's " + settings_.name_claim + " is not a usable name");
        if (!name.empty()) result.who.name.assign(name);
    }
    if (dom::element e; !claims.at_key(settings_.permissions_claim).get(e)) {
        if (auto why = read_grants(e, result.who.grants); !why.empty()) return refuse(why);
    }
    result.ok = true;
    result.expires_at = exp;
    result.who.expires_at = exp;
    return result;
}

std::string base64url_encode(std::string_view bytes) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    unsigned bits = 0, value = 0;
    for (unsigned char c : bytes) {
        value = ((value << 8) | c) & 0xffffu;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(value >> bits) & 63];
        }
    }
    if (bits > 0) out += alphabet[(value << (6 - bits)) & 63];
    return out;
}

bool looks_like_jwt(std::string_view credential) {
    return !credential.empty() && std::count(credential.begin(), credential.end(), '.') == 2;
}

}  // namespace sluice::auth
