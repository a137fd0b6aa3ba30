#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permissions.hpp"

namespace sluice::auth {

// JSON Web Tokens (RFC 7519) signed as compact JWS (RFC 7515), checked against keys the
// config names. Sans-I/O except jwt_keyring::load(), which reads the key files once.
//
// Algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA
// (Ed25519). Never "none". Each key verifies only the algorithms of its kind, so a
// token cannot make an RSA public key serve as an HMAC secret (algorithm confusion).

// A key file as the config names it; `kid` may be empty.
struct jwt_key_file {
    std::string kid;
    std::string path;
};

// The `auth.jwt` part of the config.
struct jwt_settings {
    // Files holding a raw secret (one trailing "\n" or "\r\n" stripped), for HS*. At
    // least 32 bytes; as RFC 7518 section 3.2 asks, a secret verifies HS384 only from 48
    // bytes and HS512 only from 64.
    std::vector<jwt_key_file> hmac_secrets;
    // PEM public keys ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY"): RSA (2048 bits or
    // more) for RS*/PS*, EC P-256/P-384/P-521 for ES256/ES384/ES512, Ed25519 for EdDSA.
    std::vector<jwt_key_file> public_keys;
    // A JWKS file (RFC 7517): kty RSA (n, e), EC (crv P-256/P-384/P-521, x, y), OKP (crv
    // Ed25519, x). Entries with "use":"enc", "key_ops" without "verify", an unknown kty or
    // curve, or an "alg" that is not a signature algorithm are skipped (see skipped());
    // an "alg" member limits the key to that algorithm.
    std::string jwks_file;
    // Allowed "alg" values; empty: every algorithm that some loaded key can verify.
    std::vector<std::string> algorithms;
    std::string issuer;                        // when non-empty, "iss" must equal it
    std::vector<std::string> audience;         // see jwt_verifier::verify() for "aud"
    std::int64_t leeway_seconds = 30;          // for exp, nbf, iat
    std::string permissions_claim = "sluice";  // the claim holding permissions
    std::string name_claim = "sub";            // the principal's name
};

// The keys of jwt_settings, loaded and checked. Owns them; movable, not copyable;
// read-only after load(), so one keyring may serve every thread.
class jwt_keyring {
  public:
    // Reads every file of `settings`. Throws std::runtime_error naming the file and what
    // is wrong: unreadable, not PEM, a private key or a certificate instead of a public
    // key, an unsupported key type or curve, an RSA key under 2048 bits, a secret under
    // 32 bytes, a JWKS that is not JSON or whose key misses a member, a kid used twice,
    // or no usable key at all.
    static jwt_keyring load(const jwt_settings& settings);

    jwt_keyring(jwt_keyring&&) noexcept;
    jwt_keyring& operator=(jwt_keyring&&) noexcept;
    jwt_keyring(const jwt_keyring&) = delete;
    jwt_keyring& operator=(const jwt_keyring&) = delete;
    ~jwt_keyring();

    std::size_t size() const;
    // The algorithms some key can verify, e.g. {"HS256", "RS256", "PS256"}, for the log.
    std::vector<std::string> algorithms() const;
    // JWKS entries that were skipped, and why ("key 2 (kid \"x\"): use enc"), for the log.
    const std::vector<std::string>& skipped() const;

    struct impl;

  private:
    jwt_keyring();
    friend class jwt_verifier;
    std::unique_ptr<impl> impl_;
};

// What jwt_verifier::verify() found.
struct jwt_result {
    bool ok = false;
    // When !ok: one short sentence safe to answer the client with (never the token,
    // never key material), e.g. "the token has expired".
    std::string why;
    // When ok: the name from name_claim ("jwt" when absent), grants from
    // permissions_claim (none when absent), expires_at the same as below.
    principal who;
    std::int64_t expires_at = 0;  // "exp" (rounded down), 0 when the token has none
};

// Checks tokens. Built from the config, read-only after: safe to share between threads.
class jwt_verifier {
  public:
    // Throws std::invalid_argument for an unknown or "none" algorithm in
    // settings.algorithms, allowed algorithms that no loaded key can verify, a negative
    // leeway, or an empty claim name.
    jwt_verifier(jwt_settings settings, jwt_keyring keys);

    // Token rules:
    // - at most 8 KiB; three base64url parts without padding ("=" is refused, and so are
    //   unused low bits that are not zero, so each token has one spelling);
    // - the header is a JSON object with a string "alg", optional string "kid" and "typ"
    //   (its value is not checked), no "crit"; "jku", "jwk", "x5u", "x5c" are ignored,
    //   keys only ever come from the keyring;
    // - alg "none" (in any case) and algorithms not allowed are refused;
    // - with a "kid", the key of that kid is the only one tried (none: refused); without,
    //   the first 4 keys that can verify the alg, in load order (secrets, PEM files, JWKS);
    // - the payload is a JSON object; no member name twice in header or payload.
    // Claims: "exp", "nbf", "iat", when present, are numbers (integer or not); refused when
    // now >= exp + leeway, now + leeway < nbf, or iat > now + leeway. "iss" must equal
    // settings.issuer when that is set. "aud" (a string or an array of strings) must hold
    // one of settings.audience when that is set; a token with an "aud" is refused when
    // settings.audience is empty (RFC 7519 section 4.1.3). The name claim, when present,
    // is a string of at most 256 printable bytes. The permissions claim is an array of
    // {"types": [...], "groups": [...], "allow": [...]} (each a string or an array of
    // strings; no other member; "types" only optional with allow ["metrics"]).
    jwt_result verify(std::string_view token, std::int64_t now_unix_seconds) const;

    const jwt_settings& settings() const { return settings_; }

  private:
    jwt_settings settings_;
    jwt_keyring keys_;
    std::uint32_t allowed_ = 0;  // a bit per algorithm
};

// Whether a bearer credential has the shape of a compact JWS (three parts, two dots), to
// tell a JWT from an API key without decoding it.
bool looks_like_jwt(std::string_view credential);

// `bytes` in base64url without padding (RFC 4648 section 5): API keys, and tokens in tests.
std::string base64url_encode(std::string_view bytes);

}  // namespace sluice::auth
