#include "auth/authenticator.hpp"

#include "auth/origin.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <utility>

namespace sluice::auth {
namespace {

std::string sha256_raw(std::string_view data) {
    std::array<unsigned char, 32> digest{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
        size != digest.size())
        throw std::runtime_error("SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// 64 hex digits -> 32 bytes; empty when it is not that.
std::string from_hex(std::string_view hex) {
    if (hex.size() != 64) return {};
    std::string out(32, '\0');
    for (std::size_t i = 0; i < 32; ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return {};
        out[i] = static_cast<char>(hi * 16 + lo);
    }
    return out;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = text[i], b = prefix[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

}  // namespace

std::string sha256_hex(std::string_view key) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : sha256_raw(key)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string new_api_key() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("the random generator failed");
    return "sk_" + base64url_encode(
                       std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

authenticator::authenticator(const auth_settings& settings,
                             std::vector<std::string> allowed_origins,
                             std::chrono::milliseconds auth_timeout)
    : enabled_(settings.enabled)
    , allowed_origins_(std::move(allowed_origins))
    , auth_timeout_(auth_timeout)
    , rates_(settings.rate_limits) {
    static std::atomic<std::uint64_t> generations{0};
    generation_ = ++generations;
    if (settings.enabled && settings.jwt_enabled)
        jwt_ = std::make_unique<jwt_verifier>(settings.jwt, jwt_keyring::load(settings.jwt));
    anonymous_.name = "anonymous";
    anonymous_.grants = settings.anonymous;
    open_.name = "open";
    open_.grants.push_back({{"*"}, {}, 0xff});
    for (const auto& k : settings.api_keys) {
        auto raw = from_hex(k.sha256_hex);
        if (raw.empty()) throw std::invalid_argument("API key " + k.name + ": not a SHA-256");
        principal p{k.name, k.grants};
        p.publish_rate = k.publish_rate;
        by_hash_[raw] = std::move(p);
    }
    for (const auto& c : settings.certificates) {
        principal p{c.identity, c.grants};
        p.publish_rate = c.publish_rate;
        by_certificate_[c.identity] = std::move(p);
    }
}

namespace {

authenticator::wait take(rate_limiter& limiter, std::string_view prefix, std::string_view key,
                         double n, double rate, double burst_seconds) {
    if (rate <= 0 || key.empty()) return std::nullopt;
    std::string k(prefix);
    k += key;
    return limiter.take(k, n, rate, std::max(1.0, rate * burst_seconds),
                        std::chrono::steady_clock::now());
}

}  // namespace

authenticator::wait authenticator::limit_publish(const principal* who, std::string_view client,
                                                 std::size_t events) const {
    auto n = static_cast<double>(events);
    if (who) {
        double rate = who->publish_rate > 0 ? who->publish_rate : rates_.publish_per_principal;
        if (auto w = take(limiter_, "p\n", who->name, n, rate, rates_.burst_seconds)) return w;
    }
    return take(limiter_, "c\n", client, n, rates_.publish_per_client, rates_.burst_seconds);
}

authenticator::wait authenticator::limit_connection(std::string_view client) const {
    return take(limiter_, "n\n", client, 1, rates_.connections_per_client, rates_.burst_seconds);
}

authenticator::wait authenticator::limit_subscribe(const principal* who) const {
    if (!who) return std::nullopt;
    return take(limiter_, "s\n", who->name, 1, rates_.subscriptions_per_principal,
                rates_.burst_seconds);
}

bool authenticator::origin_allowed(std::string_view origin, std::string_view host) const {
    return auth::origin_allowed(origin, host, allowed_origins_);
}

authenticator::verdict authenticator::identify_token(std::string_view token) const {
    verdict v;
    if (!enabled_) {
        v.who = &open_;
        return v;
    }
    if (token.empty()) {
        v.who = &anonymous_;
        v.anonymous = true;
        return v;
    }
    if (jwt_ && looks_like_jwt(token)) return identify_jwt(token);
    auto found = by_hash_.find(sha256_raw(token));
    if (found == by_hash_.end()) {
        v.invalid = true;
        v.why = "the credentials are not valid";
        return v;
    }
    v.who = &found->second;
    return v;
}

authenticator::verdict authenticator::identify_jwt(std::string_view token) const {
    // Verified tokens of this thread, for this authenticator. Bounded: when full it
    // starts afresh (a client minting tokens gains nothing over paying for them).
    struct cached {
        std::uint64_t generation = 0;
        std::shared_ptr<const principal> who;  // null: refused
        std::string why;
        std::int64_t valid_until = 0;  // unix seconds
    };
    // Looked up by the request's own bytes: a hit allocates nothing.
    struct view_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    thread_local std::unordered_map<std::string, cached, view_hash, std::equal_to<>> cache;
    constexpr std::size_t cache_entries = 4096;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto it = cache.find(token);
    if (it == cache.end() || it->second.generation != generation_ ||
        (it->second.valid_until > 0 && now >= it->second.valid_until)) {
        if (cache.size() >= cache_entries) cache.clear();
        auto r = jwt_->verify(token, now);
        cached c;
        c.generation = generation_;
        if (r.ok) {
            auto p = std::make_shared<principal>(std::move(r.who));
            p->expires_at = r.expires_at;
            c.valid_until = r.expires_at > 0 ? r.expires_at + jwt_->settings().leeway_seconds : 0;
            c.who = std::move(p);
        } else {
            c.why = std::move(r.why);
            c.valid_until = now + 60;
        }
        it = cache.insert_or_assign(std::string(token), std::move(c)).first;
    }
    verdict v;
    if (!it->second.who) {
        v.invalid = true;
        v.why = it->second.why;
        return v;
    }
    v.who = it->second.who.get();
    v.keep = it->second.who;
    return v;
}

authenticator::verdict authenticator::identify(std::string_view authorization,
                                               std::string_view api_key,
                                               std::string_view certificate) const {
    if (!enabled_) return identify_token({});
    if (authorization.empty() && api_key.empty() && !certificate.empty()) {
        auto it = by_certificate_.find(std::string(certificate));
        if (it != by_certificate_.end()) {
            verdict v;
            v.who = &it->second;
            return v;
        }
    }
    if (!authorization.empty()) {
        if (!iequals_prefix(authorization, "bearer ")) {
            verdict v;
            v.invalid = true;
            v.why = "the Authorization header must be \"Bearer <credential>\"";
            return v;
        }
        auto token = authorization.substr(7);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
        if (token.empty()) {
            verdict v;
            v.invalid = true;
            v.why = "the Authorization header carries no credential";
            return v;
        }
        return identify_token(token);
    }
    return identify_token(api_key);
}

}  // namespace sluice::auth
