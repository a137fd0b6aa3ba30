#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/permissions.hpp"
#include "auth/rate_limiter.hpp"

namespace sluice::auth {

// An API key as the config holds it: never the key, only its SHA-256.
struct api_key_entry {
    std::string name;
    std::string sha256_hex;  // 64 lowercase hex digits
    std::vector<grant> grants;
    double publish_rate = 0;  // events per second for this key; 0: rate_limits' default
};

// A client certificate's principal (auth.certificates): the identity that tls_listen's
// client_identity takes from a verified certificate, and what it may do.
struct certificate_entry {
    std::string identity;
    std::vector<grant> grants;
    double publish_rate = 0;  // as api_key_entry's
};

// The `rate_limits:` section: token buckets, each holding `burst_seconds` of its rate.
// 0 turns a limit off.
struct rate_limit_settings {
    double publish_per_principal = 0;        // events per second (a batch counts its events)
    double publish_per_client = 0;           // the same per client address
    double connections_per_client = 0;       // new connections per second per address
    double subscriptions_per_principal = 0;  // WebSocket subscribes per second
    double burst_seconds = 1;
};

// The `auth:` section of the config.
struct auth_settings {
    bool enabled = false;  // an `auth:` section was given; else everything is open
    std::vector<api_key_entry> api_keys;
    std::vector<certificate_entry> certificates;
    bool jwt_enabled = false;  // auth.jwt was given
    jwt_settings jwt;
    std::vector<grant> anonymous;  // what a request without credentials may do
    rate_limit_settings rate_limits;
};

// The SHA-256 of `key`, as 64 lowercase hex digits (`sluice auth hash-key`).
std::string sha256_hex(std::string_view key);
// A new random API key: "sk_" and 43 base64url characters (256 bits from OpenSSL's
// RAND_bytes). Throws std::runtime_error when the generator fails.
std::string new_api_key();

// Tells who sent a request from its credentials. Built from the config, swapped whole
// on reload, read-only after: safe to share between threads. Sans-I/O.
class authenticator {
  public:
    // `allowed_origins`: websocket.allowed_origins (see origin_allowed()).
    // `auth_timeout`: websocket.auth_timeout. Reads the JWT key files (auth.jwt); throws
    // std::runtime_error or std::invalid_argument, naming the file, when one is bad.
    explicit authenticator(const auth_settings& settings,
                           std::vector<std::string> allowed_origins = {},
                           std::chrono::milliseconds auth_timeout = std::chrono::seconds(10));

    // Off: no `auth:` section, and every request may do everything (logged at start).
    bool enabled() const { return enabled_; }

    // What identify() found.
    struct verdict {
        const principal* who = nullptr;  // set unless `invalid`
        // What `who` lives in when it is not the authenticator (a verified token).
        std::shared_ptr<const principal> keep;
        bool anonymous = false;  // no credentials were sent: `who` is anonymous()
        bool invalid = false;    // credentials were sent and are not good
        std::string why;         // for `invalid`: a sentence safe to answer with
    };
    // Reads `Authorization: Bearer <key>` or, when that is absent, `X-API-Key: <key>`;
    // with neither, `certificate`: the identity in the connection's verified client
    // certificate (a certificate auth.certificates does not list is anonymous).
    // With auth off, every request is the open principal.
    verdict identify(std::string_view authorization, std::string_view api_key,
                     std::string_view certificate = {}) const;
    // The same for a bare credential (a WebSocket `access_token` or `auth` frame);
    // empty: anonymous. A JWT (with auth.jwt) is verified once: the verdict is kept per
    // I/O thread until the token expires (a refusal for a minute), so a request pays
    // for a signature check at most once per token and thread.
    verdict identify_token(std::string_view token) const;

    const principal& anonymous() const { return anonymous_; }

    // A WebSocket upgrade from a page of `origin` to a broker reached as `host`.
    bool origin_allowed(std::string_view origin, std::string_view host) const;
    // How long a socket opened without credentials has to send an `auth` frame.
    std::chrono::milliseconds auth_timeout() const { return auth_timeout_; }

    // Rate limits (rate_limits:), by principal and client address. Each returns how
    // long to wait when the request is over its limit, else nothing. Buckets start
    // afresh when the config is reloaded.
    using wait = std::optional<std::chrono::steady_clock::duration>;
    wait limit_publish(const principal* who, std::string_view client, std::size_t events) const;
    wait limit_connection(std::string_view client) const;
    wait limit_subscribe(const principal* who) const;

  private:
    verdict identify_jwt(std::string_view token) const;

    bool enabled_;
    std::vector<std::string> allowed_origins_;
    std::chrono::milliseconds auth_timeout_;
    rate_limit_settings rates_;
    mutable rate_limiter limiter_;  // its own locks: safe from every thread
    principal anonymous_;
    principal open_;                                             // everything, when auth is off
    std::unordered_map<std::string, principal> by_hash_;         // raw 32-byte SHA-256 -> principal
    std::unordered_map<std::string, principal> by_certificate_;  // identity -> principal
    std::unique_ptr<jwt_verifier> jwt_;                          // with auth.jwt
    std::uint64_t generation_;  // tells this authenticator's cached tokens from older ones
};

// The authenticator in service, swapped whole on reload. Thread-safe.
class holder {
  public:
    std::shared_ptr<const authenticator> get() const {
        return current_.load(std::memory_order_acquire);
    }
    void set(std::shared_ptr<const authenticator> a) {
        current_.store(std::move(a), std::memory_order_release);
    }

  private:
    std::atomic<std::shared_ptr<const authenticator>> current_;
};

}  // namespace sluice::auth
