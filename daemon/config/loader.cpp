#include "config/loader.hpp"

#include "auth/jwt.hpp"
#include "auth/origin.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <vector>

#include "config/listen_address.hpp"
#include "config/units.hpp"
#include "net/tls_server.hpp"

namespace sluice::config {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string join(std::initializer_list<std::string_view> words) {
    std::string out;
    for (auto w : words) {
        if (!out.empty()) out += ", ";
        out += w;
    }
    return out;
}

// One mapping of the config (the root, `redis`, `http`...). Checking happens in the
// constructor (it must be a mapping; every key known, none twice); the read_* calls
// then copy and range-check the values that are present and leave defaults alone.
class section {
  public:
    section(const YAML::Node& node, std::string path, const std::string& source,
            std::initializer_list<std::string_view> keys)
        : node_(node), path_(std::move(path)), source_(source) {
        if (!node_.IsDefined() || node_.IsNull()) return;
        if (!node_.IsMap())
            fail(node_, "'" + path_ + "' must be a mapping", "expected keys " + join(keys));
        std::vector<std::string> seen;
        for (const auto& kv : node_) {
            const auto& key = kv.first.Scalar();
            if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
                std::string what = "unknown key '" + key + "'" + where();
                std::string expected = "expected one of " + join(keys);
                std::string_view best;
                std::size_t best_distance = 3;
                for (auto k : keys) {
                    auto d = edit_distance(key, k);
                    if (d < best_distance) best = k, best_distance = d;
                }
                if (!best.empty())
                    expected = "did you mean '" + std::string(best) + "'? " + expected;
                fail(kv.first, what, expected);
            }
            if (std::find(seen.begin(), seen.end(), key) != seen.end())
                fail(kv.first, "duplicate key '" + key + "'" + where(), "each key may appear once");
            seen.push_back(key);
        }
    }

    YAML::Node child(std::string_view key) const {
        if (!node_.IsDefined() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        for (const auto& kv : node_)
            if (kv.first.Scalar() == key) return kv.second;
        return YAML::Node(YAML::NodeType::Undefined);
    }

    std::string key_path(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

    void read_string(std::string_view key, std::string& out) const {
        auto v = child(key);
        if (!v.IsDefined()) return;
        if (v.IsNull()) {
            out.clear();
            return;
        }
        if (!v.IsScalar())
            fail(v, "'" + key_path(key) + "' must be a string", "expected a plain value");
        out = v.Scalar();
    }

    void read_bool(std::string_view key, bool& out) const {
        auto v = child(key);
        if (!v.IsDefined()) return;
        if (v.IsScalar() && v.Scalar() == "true")
            out = true;
        else if (v.IsScalar() && v.Scalar() == "false")
            out = false;
        else
            fail(v, "'" + key_path(key) + "' must be a boolean, got " + describe(v),
                 "expected true or false");
    }

    template <typename Int>
    void read_int(std::string_view key, Int& out, Int min, Int max) const {
        auto v = child(key);
        if (!v.IsDefined()) return;
        long long n = 0;
        const std::string& s = v.IsScalar() ? v.Scalar() : std::string();
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        std::string range =
            "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
        if (!v.IsScalar() || s.empty() || ec != std::errc{} || p != s.data() + s.size())
            fail(v, "'" + key_path(key) + "' must be an integer, got " + describe(v), range);
        if (n < static_cast<long long>(min) || n > static_cast<long long>(max))
            fail(v, "'" + key_path(key) + "' is out of range: " + s, range);
        out = static_cast<Int>(n);
    }

    void read_duration(std::string_view key, duration& out, duration min, duration max) const {
        auto v = child(key);
        if (!v.IsDefined()) return;
        std::string range = "expected a duration from " + show(min) + " to " + show(max) +
                            ", written like 250ms, 10s, 5m or 1h";
        auto d = v.IsScalar() ? parse_duration(v.Scalar()) : std::nullopt;
        if (!d) fail(v, "'" + key_path(key) + "' is not a duration: " + describe(v), range);
        if (*d < min || *d > max)
            fail(v, "'" + key_path(key) + "' is out of range: " + v.Scalar(), range);
        out = *d;
    }

    void read_size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max) const {
        auto v = child(key);
        if (!v.IsDefined()) return;
        std::string range = "expected a size from " + std::to_string(min) + " to " +
                            std::to_string(max) + " bytes, written like 65536, 64KiB or 1MiB";
        auto n = v.IsScalar() ? parse_size(v.Scalar()) : std::nullopt;
        if (!n) fail(v, "'" + key_path(key) + "' is not a size: " + describe(v), range);
        if (*n < min || *n > max)
            fail(v, "'" + key_path(key) + "' is out of range: " + v.Scalar(), range);
        out = static_cast<std::size_t>(*n);
    }

    // A scalar that must be one of `choices`; returns its index.
    std::size_t read_choice(std::string_view key, std::initializer_list<std::string_view> choices,
                            std::size_t fallback) const {
        auto v = child(key);
        if (!v.IsDefined()) return fallback;
        std::size_t i = 0;
        for (auto c : choices) {
            if (v.IsScalar() && v.Scalar() == c) return i;
            ++i;
        }
        fail(v, "'" + key_path(key) + "' has an unknown value: " + describe(v),
             "expected one of " + join(choices));
    }

    [[noreturn]] void fail(const YAML::Node& at, const std::string& what,
                           const std::string& expected) const {
        auto m = at.Mark();
        std::ostringstream msg;
        msg << source_;
        if (!m.is_null()) msg << ':' << m.line + 1 << ':' << m.column + 1;
        msg << ": " << what << "; " << expected;
        throw config_error(msg.str());
    }

  private:
    std::string where() const {
        return path_.empty() ? std::string(" at the top level") : " in '" + path_ + "'";
    }

    static std::string describe(const YAML::Node& v) {
        if (v.IsMap()) return "a mapping";
        if (v.IsSequence()) return "a list";
        if (v.IsNull()) return "nothing";
        return "'" + v.Scalar() + "'";
    }

    static std::string show(duration d) {
        auto ms = d.count();
        if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
        if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
        if (ms % 1000 == 0 && ms) return std::to_string(ms / 1000) + "s";
        return std::to_string(ms) + "ms";
    }

    YAML::Node node_;
    std::string path_;
    const std::string& source_;
};

// One entry of `types` (or `type_defaults`): starts from `defaults`.
void read_type(const YAML::Node& node, const std::string& path, const std::string& source,
               const registry::type_policy& defaults, registry::type_policy& out) {
    using namespace std::chrono_literals;
    out = defaults;
    section t(node, path, source, {"default_version", "compatibility", "retention", "delivery"});
    t.read_int("default_version", out.default_version, 1u, 1'000'000u);
    if (auto c = t.child("compatibility"); c.IsDefined()) {
        if (!c.IsScalar() || !registry::parse_compatibility(c.Scalar(), out.mode))
            t.fail(c,
                   "'" + path + ".compatibility' has an unknown value: '" +
                       (c.IsScalar() ? c.Scalar() : "") + "'",
                   "expected one of none, backward, forward, full, backward_transitive, "
                   "forward_transitive, "
                   "full_transitive");
    }
    section r(t.child("retention"), path + ".retention", source,
              {"max_length", "max_age", "unsafe", "idle_group_after"});
    r.read_bool("unsafe", out.unsafe);
    r.read_duration("idle_group_after", out.idle_group_after, 1s, 3650 * 24h);
    r.read_int<std::uint64_t>("max_length", out.max_length, 0, 1'000'000'000'000ull);
    r.read_duration("max_age", out.max_age, 0ms, 3650 * 24h);

    auto& d = out.delivery;
    section dl(t.child("delivery"), path + ".delivery", source,
               {"ack_timeout", "max_deliveries", "retry_backoff", "retry_backoff_max", "groups"});
    dl.read_duration("ack_timeout", d.ack_timeout, 100ms, 24h);
    dl.read_int("max_deliveries", d.max_deliveries, 1u, 1000u);
    dl.read_duration("retry_backoff", d.retry_backoff, 0ms, 24h);
    dl.read_duration("retry_backoff_max", d.retry_backoff_max, 0ms, 24h);
    if (d.retry_backoff_max < d.retry_backoff)
        dl.fail(dl.child("retry_backoff_max"),
                "'" + path + ".delivery.retry_backoff_max' is less than 'retry_backoff'",
                "expected a cap at least as long as the first backoff");
    if (auto groups = dl.child("groups"); groups.IsDefined() && !groups.IsNull()) {
        if (!groups.IsMap())
            dl.fail(groups, "'" + path + ".delivery.groups' must be a mapping",
                    "expected consumer group names as keys, e.g. billing: {max_deliveries: 10}");
        for (const auto& kv : groups) {
            const std::string& name = kv.first.Scalar();
            section g(kv.second, path + ".delivery.groups." + name, source, {"max_deliveries"});
            unsigned n = d.max_deliveries;
            g.read_int("max_deliveries", n, 1u, 1000u);
            d.group_max_deliveries[name] = n;
        }
    }
}

std::string resolve_path(const std::string& base_dir, const std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute() || base_dir.empty()) return p;
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

void apply_environment(settings& s, const env_lookup& env) {
    if (auto v = env("SLUICE_LISTEN")) {
        auto hp = parse_host_port(*v);
        if (!hp)
            throw config_error("SLUICE_LISTEN: not a listen address: '" + *v +
                               "'; expected host:port, e.g. 0.0.0.0:8080 or [::1]:8080");
        s.listen.address = hp->host;
        s.listen.port = hp->port;
    }
    if (auto v = env("SLUICE_REDIS_URL")) {
        std::string why;
        auto ep = parse_redis_url(*v, why);
        if (!ep)
            throw config_error("SLUICE_REDIS_URL: " + why +
                               "; expected e.g. redis://127.0.0.1:6379/0");
        s.redis.url = *v;
        s.redis.endpoint = *ep;
    }
    if (auto v = env("SLUICE_LOG_LEVEL")) {
        if (!log::parse_level(*v, s.log.level))
            throw config_error("SLUICE_LOG_LEVEL: unknown level '" + *v +
                               "'; expected debug, info, warn or error");
    }
    if (auto v = env("SLUICE_LOG_FORMAT")) {
        if (*v == "json")
            s.log.format = log::format::json;
        else if (*v == "text")
            s.log.format = log::format::text;
        else
            throw config_error("SLUICE_LOG_FORMAT: unknown format '" + *v +
                               "'; expected json or text");
    }
    if (auto v = env("SLUICE_SCHEMAS_DIR")) s.schemas.dir = *v;
    // The sentinels' password, which a Kubernetes Secret can give as an environment
    // variable (the config file is often a ConfigMap).
    if (auto v = env("SLUICE_REDIS_SENTINEL_PASSWORD")) s.redis.sentinel_password = *v;
}

}  // namespace

env_lookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

// A list of strings at `key` of `sec` (a lone string is a list of one).
std::vector<std::string> read_strings(const section& sec, std::string_view key) {
    std::vector<std::string> out;
    auto v = sec.child(key);
    if (!v.IsDefined() || v.IsNull()) return out;
    if (v.IsScalar()) {
        out.push_back(v.Scalar());
        return out;
    }
    if (!v.IsSequence())
        sec.fail(v, "'" + sec.key_path(key) + "' must be a list of strings",
                 "expected e.g. [\"orders.*\"]");
    for (const auto& item : v) {
        if (!item.IsScalar())
            sec.fail(item, "'" + sec.key_path(key) + "' must be a list of strings",
                     "expected e.g. [\"orders.*\"]");
        out.push_back(item.Scalar());
    }
    return out;
}

// A list of permissions: [{types: [...], groups: [...], allow: [...]}, ...].
std::vector<auth::grant> read_grants(const section& parent, std::string_view key,
                                     const std::string& source) {
    std::vector<auth::grant> out;
    auto v = parent.child(key);
    auto path = parent.key_path(key);
    if (!v.IsDefined() || v.IsNull()) return out;
    if (!v.IsSequence())
        parent.fail(v, "'" + path + "' must be a list of permissions",
                    "expected e.g. [{types: [\"orders.*\"], allow: [publish]}]");
    std::size_t n = 0;
    for (const auto& item : v) {
        section g(item, path + "[" + std::to_string(n++) + "]", source,
                  {"types", "groups", "allow"});
        auth::grant grant;
        grant.types = read_strings(g, "types");
        grant.groups = read_strings(g, "groups");
        for (const auto& list : {&grant.types, &grant.groups})
            for (const auto& pattern : *list)
                if (auto why = auth::pattern_problem(pattern); !why.empty())
                    g.fail(item,
                           "'" + g.key_path(list == &grant.types ? "types" : "groups") +
                               "' has a bad pattern '" + pattern + "'",
                           why);
        auto actions = read_strings(g, "allow");
        if (actions.empty())
            g.fail(item, "'" + g.key_path("allow") + "' is missing or empty",
                   "expected some of publish, subscribe, consume, replay, admin, metrics");
        for (const auto& a : actions) {
            auto act = auth::action_named(a);
            if (!act)
                g.fail(g.child("allow"),
                       "'" + g.key_path("allow") + "' has an unknown action '" + a + "'",
                       "expected some of publish, subscribe, consume, replay, admin, metrics");
            grant.allow |= static_cast<auth::action_set>(*act);
        }
        if (grant.types.empty() &&
            grant.allow != static_cast<auth::action_set>(auth::action::metrics))
            g.fail(item, "'" + g.key_path("types") + "' is missing",
                   "expected the event types it covers, e.g. [\"orders.*\"] or [\"*\"]");
        out.push_back(std::move(grant));
    }
    return out;
}

void read_rate_limits(const section& top, settings& s, const std::string& source) {
    section r(top.child("rate_limits"), "rate_limits", source,
              {"publish_per_principal", "publish_per_client", "connections_per_client",
               "subscriptions_per_principal", "burst"});
    auto& out = s.auth.rate_limits;
    for (auto [key, value] :
         {std::pair{"publish_per_principal", &out.publish_per_principal},
          std::pair{"publish_per_client", &out.publish_per_client},
          std::pair{"connections_per_client", &out.connections_per_client},
          std::pair{"subscriptions_per_principal", &out.subscriptions_per_principal}}) {
        unsigned n = 0;
        r.read_int<unsigned>(key, n, 0u, 100'000'000u);
        *value = n;
    }
    duration burst{1000};
    r.read_duration("burst", burst, duration(100), duration(3'600'000));
    out.burst_seconds = static_cast<double>(burst.count()) / 1000.0;
}

// auth.jwt: where the keys are and which claims to check.
void read_jwt(const section& a, settings& s, const std::string& source) {
    auto node = a.child("jwt");
    if (!node.IsDefined() || node.IsNull()) return;
    section j(node, "auth.jwt", source,
              {"hmac_secrets", "public_keys", "jwks_file", "algorithms", "issuer", "audience",
               "leeway", "permissions_claim", "name_claim"});
    auto& out = s.auth.jwt;
    s.auth.jwt_enabled = true;
    for (auto [key, list] : {std::pair{"hmac_secrets", &out.hmac_secrets},
                             std::pair{"public_keys", &out.public_keys}}) {
        auto v = j.child(key);
        if (!v.IsDefined() || v.IsNull()) continue;
        if (!v.IsSequence())
            j.fail(v, "'" + j.key_path(key) + "' must be a list",
                   "expected [{kid: ..., path: ...}] or a list of paths");
        std::size_t n = 0;
        for (const auto& item : v) {
            auth::jwt_key_file f;
            if (item.IsScalar()) {
                f.path = item.Scalar();
            } else {
                section k(item, j.key_path(key) + "[" + std::to_string(n) + "]", source,
                          {"kid", "path"});
                k.read_string("kid", f.kid);
                k.read_string("path", f.path);
            }
            ++n;
            if (f.path.empty())
                j.fail(item, "'" + j.key_path(key) + "' has an entry without a path",
                       "expected the file's path (relative to the config's folder)");
            list->push_back(std::move(f));
        }
    }
    j.read_string("jwks_file", out.jwks_file);
    out.algorithms = read_strings(j, "algorithms");
    j.read_string("issuer", out.issuer);
    out.audience = read_strings(j, "audience");
    duration leeway{out.leeway_seconds * 1000};
    j.read_duration("leeway", leeway, duration(0), duration(3'600'000));
    out.leeway_seconds = leeway.count() / 1000;
    j.read_string("permissions_claim", out.permissions_claim);
    j.read_string("name_claim", out.name_claim);
    if (out.hmac_secrets.empty() && out.public_keys.empty() && out.jwks_file.empty())
        j.fail(node, "'auth.jwt' names no key", "expected hmac_secrets, public_keys or jwks_file");
}

// What every principal of the config has besides its credential: its permissions and
// its own publish rate (events/s; 0: rate_limits' default).
template <typename Entry>
void read_principal(const section& sec, Entry& out, const std::string& source) {
    unsigned rate = 0;
    sec.read_int<unsigned>("publish_rate", rate, 0u, 100'000'000u);
    out.publish_rate = rate;
    out.grants = read_grants(sec, "permissions", source);
}

// redis.mode and redis.sentinel: which Redis deployment, and how to find its master.
void read_sentinel(const section& redis, settings& s, const std::string& source) {
    auto& ep = s.redis.endpoint;
    section sentinel(redis.child("sentinel"), "redis.sentinel", source,
                     {"addresses", "master_name", "username", "password"});
    auto addresses = read_strings(sentinel, "addresses");
    if (!addresses.empty()) {
        ep.sentinels.clear();
        for (const auto& a : addresses) {
            redis::node_address n{{}, 26379};
            std::string why;
            if (!parse_host_port_into(a, n, why))
                sentinel.fail(sentinel.child("addresses"),
                              "'redis.sentinel.addresses' has a bad address '" + a + "': " + why,
                              "expected host:port, e.g. 10.0.0.5:26379");
            ep.sentinels.push_back(std::move(n));
        }
    }
    sentinel.read_string("master_name", ep.master_name);
    sentinel.read_string("username", s.redis.sentinel_username);
    sentinel.read_string("password", s.redis.sentinel_password);
    if (auto m = redis.child("mode"); m.IsDefined()) {
        std::string given = m.IsScalar() ? m.Scalar() : "";
        if (given == "cluster")
            redis.fail(m, "'redis.mode' cluster is not supported yet",
                       "expected standalone (one master) or sentinel");
        if (given != "standalone" && given != "sentinel")
            redis.fail(m, "'redis.mode' has an unknown value '" + given + "'",
                       "expected standalone or sentinel");
        s.redis.mode = given;  // checked against the endpoint after the environment
    }
    if (ep.is_sentinel() && ep.master_name.empty())
        redis.fail(redis.child("sentinel"), "'redis.sentinel.master_name' is missing",
                   "expected the name the sentinels monitor, e.g. mymaster");
    if (ep.is_sentinel() && ep.kind == redis::endpoint::transport::unix_socket)
        redis.fail(redis.child("sentinel"), "sentinels cannot be used with a unix:// URL",
                   "expected redis+sentinel://h1:26379/mymaster, or sentinel addresses with "
                   "redis://");
}

// auth.certificates: principals named by a client certificate (tls_listen with a
// client_ca_file).
void read_certificates(const section& a, settings& s, const std::string& source) {
    auto list = a.child("certificates");
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence())
        a.fail(list, "'auth.certificates' must be a list",
               "expected [{identity: ..., permissions: [...]}]");
    std::size_t n = 0;
    for (const auto& item : list) {
        section c(item, "auth.certificates[" + std::to_string(n++) + "]", source,
                  {"identity", "permissions", "publish_rate"});
        auth::certificate_entry entry;
        c.read_string("identity", entry.identity);
        if (entry.identity.empty())
            c.fail(item, "'" + c.key_path("identity") + "' is missing",
                   "expected the name tls_listen.client_identity takes from the certificate, "
                   "e.g. its common name billing-service");
        for (const auto& other : s.auth.certificates)
            if (other.identity == entry.identity)
                c.fail(item,
                       "'" + c.key_path("identity") + "' '" + entry.identity + "' is listed twice",
                       "expected each identity once");
        read_principal(c, entry, source);
        s.auth.certificates.push_back(std::move(entry));
    }
}

// tls_listen: the HTTPS and WSS listener and its certificate.
void read_tls_listen(const section& top, settings& s, const std::string& source,
                     const std::string& base_dir) {
    auto node = top.child("tls_listen");
    if (!node.IsDefined() || node.IsNull()) return;
    section t(node, "tls_listen", source,
              {"address", "port", "cert_file", "key_file", "min_version", "client_ca_file",
               "client_certificate", "client_identity"});
    auto& out = s.tls_listen;
    out.enabled = true;
    t.read_string("address", out.address);
    t.read_int<std::uint16_t>("port", out.port, 0, 65535);
    if (!t.child("port").IsDefined())
        t.fail(node, "'tls_listen.port' is missing", "expected the HTTPS port, e.g. 8443");
    auto& c = out.certificate;
    t.read_string("cert_file", c.cert_file);
    t.read_string("key_file", c.key_file);
    t.read_string("client_ca_file", c.client_ca_file);
    for (auto key : {"cert_file", "key_file"})
        if (!t.child(key).IsDefined())
            t.fail(node, "'tls_listen." + std::string(key) + "' is missing",
                   "expected a PEM file: the certificate chain and its private key");
    if (auto v = t.child("min_version"); v.IsDefined()) {
        if (!v.IsScalar() || (v.Scalar() != "1.2" && v.Scalar() != "1.3"))
            t.fail(v, "'tls_listen.min_version' must be 1.2 or 1.3",
                   "expected \"1.2\" (the default) or \"1.3\"");
        c.min_version = v.Scalar() == "1.3" ? 13 : 12;
    }
    if (auto v = t.child("client_certificate"); v.IsDefined()) {
        if (!v.IsScalar() || (v.Scalar() != "required" && v.Scalar() != "optional"))
            t.fail(v, "'tls_listen.client_certificate' must be required or optional",
                   "expected required (the default: no certificate, no connection) or optional "
                   "(clients without one authenticate otherwise)");
        if (c.client_ca_file.empty())
            t.fail(v, "'tls_listen.client_certificate' needs 'client_ca_file'",
                   "expected the CA bundle that signs client certificates");
        c.require_client_certificate = v.Scalar() == "required";
    }
    if (auto v = t.child("client_identity"); v.IsDefined()) {
        if (c.client_ca_file.empty())
            t.fail(v, "'tls_listen.client_identity' needs 'client_ca_file'",
                   "expected the CA bundle that signs client certificates");
        using id = net::tls_server_settings::identity;
        std::string name = v.IsScalar() ? v.Scalar() : "";
        if (name == "common_name")
            c.client_identity = id::common_name;
        else if (name == "dns")
            c.client_identity = id::dns;
        else if (name == "uri")
            c.client_identity = id::uri;
        else if (name == "email")
            c.client_identity = id::email;
        else
            t.fail(v, "'tls_listen.client_identity' has an unknown value '" + name + "'",
                   "expected common_name (the default), dns, uri or email: the subject's CN or "
                   "the first subject alternative name of that kind");
    }
    for (auto* p : {&c.cert_file, &c.key_file, &c.client_ca_file}) *p = resolve_path(base_dir, *p);
    // Read now, so a bad file is a config error (at start, on --check-config and on
    // reload, which then keeps the running certificate).
    try {
        net::load_tls_server_context(c);
    } catch (const std::exception& e) {
        throw config_error(source + ": " + e.what());
    }
}

void read_auth(const section& top, settings& s, const std::string& source) {
    auto node = top.child("auth");
    if (!node.IsDefined()) return;
    section a(node, "auth", source, {"api_keys", "anonymous", "jwt", "certificates"});
    s.auth.enabled = true;
    read_jwt(a, s, source);
    read_certificates(a, s, source);
    s.auth.anonymous = read_grants(a, "anonymous", source);
    auto keys = a.child("api_keys");
    if (!keys.IsDefined() || keys.IsNull()) return;
    if (!keys.IsSequence())
        a.fail(keys, "'auth.api_keys' must be a list",
               "expected [{name: ..., sha256: ..., permissions: [...]}]");
    std::size_t n = 0;
    for (const auto& item : keys) {
        section k(item, "auth.api_keys[" + std::to_string(n++) + "]", source,
                  {"name", "sha256", "permissions", "publish_rate"});
        auth::api_key_entry key;
        k.read_string("name", key.name);
        k.read_string("sha256", key.sha256_hex);
        if (key.name.empty())
            k.fail(item, "'" + k.key_path("name") + "' is missing",
                   "expected a name for logs, e.g. billing-service");
        for (auto& c : key.sha256_hex)
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        bool hex = key.sha256_hex.size() == 64 &&
                   key.sha256_hex.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex)
            k.fail(item, "'" + k.key_path("sha256") + "' is not a SHA-256 (64 hex digits)",
                   "expected the output of: sluice auth hash-key < key-file (the config never "
                   "holds the key)");
        for (const auto& other : s.auth.api_keys)
            if (other.sha256_hex == key.sha256_hex)
                k.fail(item,
                       "'" + k.key_path("sha256") + "' is the same key as '" + other.name + "'",
                       "expected each key once");
        read_principal(k, key, source);
        s.auth.api_keys.push_back(std::move(key));
    }
}

settings parse(std::string_view yaml_text, const std::string& source, const std::string& base_dir,
               const env_lookup& env) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::ParserException& e) {
        std::ostringstream msg;
        msg << source << ':' << e.mark.line + 1 << ':' << e.mark.column + 1
            << ": not valid YAML: " << e.msg
            << "; expected a YAML mapping like the example in config/sluice.yaml";
        throw config_error(msg.str());
    }

    settings s;
    s.source = source;
    section top(root, "", source,
                {"listen", "threads", "redis", "http", "websocket", "log", "schemas", "shutdown",
                 "reload", "metrics", "publish", "type_defaults", "types", "auth", "rate_limits",
                 "admin_listen", "tls_listen"});
    if (root.IsDefined() && !root.IsNull() && !root.IsMap())
        top.fail(root, "the config must be a mapping", "expected keys such as listen, redis, http");

    top.read_int("threads", s.threads, 1u, 256u);

    section admin(top.child("admin_listen"), "admin_listen", source, {"address", "port"});
    if (top.child("admin_listen").IsDefined() && !top.child("admin_listen").IsNull()) {
        s.admin_listen.enabled = true;
        admin.read_string("address", s.admin_listen.address);
        admin.read_int<std::uint16_t>("port", s.admin_listen.port, 0, 65535);
        if (!admin.child("port").IsDefined())
            admin.fail(top.child("admin_listen"), "'admin_listen.port' is missing",
                       "expected the port of the admin listener, e.g. 9090");
    }

    section listen(top.child("listen"), "listen", source, {"enabled", "address", "port"});
    listen.read_bool("enabled", s.listen.enabled);
    listen.read_string("address", s.listen.address);
    listen.read_int<std::uint16_t>("port", s.listen.port, 0, 65535);
    if (s.listen.address.empty())
        listen.fail(listen.child("address"), "'listen.address' is empty",
                    "expected an IP address or host name");

    section redis(top.child("redis"), "redis", source,
                  {"url", "username", "password", "db", "client_name", "connect_timeout",
                   "health_check_interval", "dead_after", "reconnect_min", "reconnect_max",
                   "wait_when_disconnected", "max_pending_requests", "max_pending_bytes",
                   "max_reply_bytes", "tls", "mode", "sentinel"});
    redis.read_string("url", s.redis.url);
    {
        std::string why;
        auto ep = parse_redis_url(s.redis.url, why);
        if (!ep) {
            auto at = redis.child("url");
            redis.fail(at.IsDefined() ? at : root, "'redis.url' is not a Redis URL: " + why,
                       "expected redis://host:port/db, rediss://host:port/db, unix:///path or "
                       "redis+sentinel://h1:26379,h2:26379/mymaster");
        }
        s.redis.endpoint = *ep;
    }
    // Separate keys beat what the URL says, so a password can come from its own line.
    if (redis.child("username").IsDefined())
        redis.read_string("username", s.redis.endpoint.username);
    if (redis.child("password").IsDefined())
        redis.read_string("password", s.redis.endpoint.password);
    redis.read_int("db", s.redis.endpoint.db, 0, 1'000'000);
    read_sentinel(redis, s, source);
    redis.read_string("client_name", s.redis.client_name);
    if (s.redis.client_name.find_first_of(" \t\r\n") != std::string::npos)
        redis.fail(redis.child("client_name"), "'redis.client_name' contains spaces",
                   "expected a name without spaces");
    using namespace std::chrono_literals;
    redis.read_duration("connect_timeout", s.redis.connect_timeout, 10ms, 5min);
    redis.read_duration("health_check_interval", s.redis.health_check_interval, 10ms, 5min);
    redis.read_duration("dead_after", s.redis.dead_after, 10ms, 10min);
    redis.read_duration("reconnect_min", s.redis.reconnect_min, 1ms, 1min);
    redis.read_duration("reconnect_max", s.redis.reconnect_max, 1ms, 10min);
    redis.read_duration("wait_when_disconnected", s.redis.wait_when_disconnected, 0ms, 1min);
    redis.read_int<std::size_t>("max_pending_requests", s.redis.max_pending_requests, 1,
                                10'000'000);
    redis.read_size("max_pending_bytes", s.redis.max_pending_bytes, 1024, 4ull << 30);
    redis.read_size("max_reply_bytes", s.redis.max_reply_bytes, 1024, 1ull << 30);
    if (s.redis.reconnect_max < s.redis.reconnect_min)
        redis.fail(redis.child("reconnect_max"),
                   "'redis.reconnect_max' is below 'redis.reconnect_min'",
                   "expected reconnect_max >= reconnect_min");
    if (s.redis.dead_after <= s.redis.health_check_interval)
        redis.fail(redis.child("dead_after").IsDefined() ? redis.child("dead_after")
                                                         : redis.child("health_check_interval"),
                   "'redis.dead_after' must be longer than 'redis.health_check_interval'",
                   "expected dead_after of at least two health check intervals");
    section tls(redis.child("tls"), "redis.tls", source,
                {"ca_file", "cert_file", "key_file", "server_name", "verify"});
    tls.read_string("ca_file", s.redis.tls.ca_file);
    tls.read_string("cert_file", s.redis.tls.cert_file);
    tls.read_string("key_file", s.redis.tls.key_file);
    tls.read_string("server_name", s.redis.tls.server_name);
    tls.read_bool("verify", s.redis.tls.verify);
    if (s.redis.tls.cert_file.empty() != s.redis.tls.key_file.empty())
        tls.fail(tls.child(s.redis.tls.cert_file.empty() ? "key_file" : "cert_file"),
                 "a client certificate needs both 'cert_file' and 'key_file'",
                 "expected both or neither");
    for (auto* p : {&s.redis.tls.ca_file, &s.redis.tls.cert_file, &s.redis.tls.key_file})
        *p = resolve_path(base_dir, *p);

    section http(
        top.child("http"), "http", source,
        {"max_body_bytes", "max_header_bytes", "idle_timeout", "first_byte_timeout", "read_timeout",
         "write_timeout", "max_connections", "max_connections_per_client", "access_log"});
    http.read_size("max_body_bytes", s.http.max_body_bytes, 1, 1ull << 30);
    // The HTTP parser holds a header field's offsets in 16 bits: a limit above 64 KiB
    // would let one field past what it can store.
    http.read_size("max_header_bytes", s.http.max_header_bytes, 1024, 64 * 1024);
    http.read_duration("idle_timeout", s.http.idle_timeout, 1ms, 24h);
    http.read_duration("first_byte_timeout", s.http.first_byte_timeout, 1ms, 1h);
    http.read_duration("read_timeout", s.http.read_timeout, 1ms, 1h);
    http.read_duration("write_timeout", s.http.write_timeout, 1ms, 1h);
    http.read_int<std::size_t>("max_connections", s.http.max_connections, 1, 1'000'000);
    http.read_int<std::size_t>("max_connections_per_client", s.http.max_connections_per_client, 0,
                               1'000'000);
    http.read_bool("access_log", s.http.access_log);
    if (s.http.max_body_bytes > s.redis.max_pending_bytes)
        http.fail(http.child("max_body_bytes"),
                  "'http.max_body_bytes' is larger than 'redis.max_pending_bytes'",
                  "expected a body limit no larger than what may wait for Redis, or such a request "
                  "could never be "
                  "stored");

    section ws(top.child("websocket"), "websocket", source,
               {"max_message_bytes", "max_subscriptions", "send_timeout", "ping_interval",
                "max_queued_bytes", "allowed_origins", "auth_timeout"});
    ws.read_size("max_message_bytes", s.websocket.max_message_bytes, 256, 16 << 20);
    ws.read_size("max_queued_bytes", s.websocket.max_queued_bytes, 64 * 1024, 1ull << 30);
    ws.read_int<std::size_t>("max_subscriptions", s.websocket.max_subscriptions, 1, 10'000);
    ws.read_duration("send_timeout", s.websocket.send_timeout, 10ms, 1h);
    ws.read_duration("ping_interval", s.websocket.ping_interval, 100ms, 1h);
    ws.read_duration("auth_timeout", s.websocket.auth_timeout, 100ms, 10min);
    s.websocket.allowed_origins = read_strings(ws, "allowed_origins");
    for (const auto& o : s.websocket.allowed_origins)
        if (auto why = auth::origin_entry_problem(o); !why.empty())
            ws.fail(ws.child("allowed_origins"),
                    "'websocket.allowed_origins' has a bad origin '" + o + "'", why);

    section logs(top.child("log"), "log", source, {"level", "format"});
    s.log.level = static_cast<log::level>(logs.read_choice(
        "level", {"debug", "info", "warn", "error"}, static_cast<std::size_t>(s.log.level)));
    s.log.format = logs.read_choice("format", {"json", "text"}, 0) == 0 ? log::format::json
                                                                        : log::format::text;

    section schemas(top.child("schemas"), "schemas", source,
                    {"dir", "regex_match_limit", "regex_depth_limit", "max_evaluation_steps"});
    schemas.read_string("dir", s.schemas.dir);
    if (s.schemas.dir.empty())
        schemas.fail(schemas.child("dir"), "'schemas.dir' is empty",
                     "expected the folder that holds <type>/v<N>.json");
    schemas.read_int<std::uint32_t>("regex_match_limit", s.schemas.regex_match_limit, 1'000,
                                    100'000'000);
    schemas.read_int<std::uint32_t>("regex_depth_limit", s.schemas.regex_depth_limit, 100,
                                    10'000'000);
    schemas.read_int<std::uint64_t>("max_evaluation_steps", s.schemas.max_evaluation_steps, 10'000,
                                    1'000'000'000'000);

    section publish(top.child("publish"), "publish", source,
                    {"source", "idempotency_window", "max_batch", "max_violations",
                     "max_answer_bytes", "min_replicas", "replica_timeout"});
    publish.read_string("source", s.publish.source);
    if (s.publish.source.empty())
        publish.fail(publish.child("source"), "'publish.source' is empty",
                     "expected a URI reference such as /my-broker");
    publish.read_duration("idempotency_window", s.publish.idempotency_window, 1s, 30 * 24h);
    publish.read_int<std::size_t>("max_batch", s.publish.max_batch, 1, 100'000);
    publish.read_int<std::size_t>("max_violations", s.publish.max_violations, 1, 1000);
    publish.read_size("max_answer_bytes", s.publish.max_answer_bytes, 1024, 64 << 20);
    publish.read_int("min_replicas", s.publish.min_replicas, 0u, 64u);
    publish.read_duration("replica_timeout", s.publish.replica_timeout, 1ms, 1min);

    read_type(top.child("type_defaults"), "type_defaults", source, s.type_defaults,
              s.type_defaults);
    {
        auto types = top.child("types");
        if (types.IsDefined() && !types.IsNull()) {
            if (!types.IsMap())
                top.fail(types, "'types' must be a mapping",
                         "expected event type names as keys, e.g. user.created:");
            for (const auto& kv : types) {
                const std::string& name = kv.first.Scalar();
                if (s.types.count(name))
                    top.fail(kv.first, "duplicate type '" + name + "' in 'types'",
                             "each type may appear once");
                auto& t = s.types[name];
                read_type(kv.second, "types." + name, source, s.type_defaults, t);
            }
        }
    }

    section shutdown(top.child("shutdown"), "shutdown", source, {"drain_delay", "grace_period"});
    shutdown.read_duration("drain_delay", s.shutdown.drain_delay, 0ms, 10min);
    shutdown.read_duration("grace_period", s.shutdown.grace_period, 0ms, 1h);

    section reload(top.child("reload"), "reload", source, {"watch_interval"});
    reload.read_duration("watch_interval", s.reload.watch_interval, 0ms, 1h);
    section metrics(top.child("metrics"), "metrics", source, {"group_stats_interval"});
    metrics.read_duration("group_stats_interval", s.metrics.group_stats_interval, 100ms, 1h);

    read_auth(top, s, source);
    read_rate_limits(top, s, source);
    read_tls_listen(top, s, source, base_dir);
    if (!s.listen.enabled && !s.tls_listen.enabled)
        listen.fail(listen.child("enabled"),
                    "'listen.enabled' is false and there is no 'tls_listen'",
                    "expected a listener: the plain one, tls_listen, or both");
    if (!s.auth.certificates.empty() &&
        (!s.tls_listen.enabled || s.tls_listen.certificate.client_ca_file.empty()))
        top.fail(top.child("auth"), "'auth.certificates' needs 'tls_listen.client_ca_file'",
                 "expected tls_listen with the CA that signs client certificates; without it no "
                 "certificate is ever verified, so none of these principals could sign in");

    apply_environment(s, env);
    // The sentinels' own credentials survive a SLUICE_REDIS_URL, which names nodes only.
    s.redis.endpoint.sentinel_username = s.redis.sentinel_username;
    s.redis.endpoint.sentinel_password = s.redis.sentinel_password;
    // redis.mode must agree with the endpoint, SLUICE_REDIS_URL's included.
    if (!s.redis.mode.empty() && (s.redis.mode == "sentinel") != s.redis.endpoint.is_sentinel()) {
        bool want = s.redis.mode == "sentinel";
        redis.fail(redis.child("mode"),
                   want ? "'redis.mode' is sentinel but no sentinel is given"
                        : "'redis.mode' is standalone but sentinels are given",
                   want ? "expected redis.sentinel.addresses, or a redis+sentinel:// URL (also "
                          "in SLUICE_REDIS_URL)"
                        : "expected mode: sentinel, or no sentinel addresses (also in "
                          "SLUICE_REDIS_URL)");
    }
    // After the environment, which may move the plain listener (SLUICE_LISTEN).
    if (s.listen.enabled && s.tls_listen.enabled && s.listen.port != 0 &&
        s.listen.port == s.tls_listen.port && s.listen.address == s.tls_listen.address)
        top.fail(top.child("tls_listen"), "'tls_listen' has the same address and port as 'listen'",
                 "expected another port for HTTPS, e.g. 8443");
    s.schemas.dir = resolve_path(base_dir, s.schemas.dir);
    for (auto* list : {&s.auth.jwt.hmac_secrets, &s.auth.jwt.public_keys})
        for (auto& f : *list) f.path = resolve_path(base_dir, f.path);
    if (!s.auth.jwt.jwks_file.empty())
        s.auth.jwt.jwks_file = resolve_path(base_dir, s.auth.jwt.jwks_file);
    // The key files are read now, so a bad one is a config error (at start, on
    // --check-config and on reload, which then keeps the running config).
    if (s.auth.enabled && s.auth.jwt_enabled) {
        try {
            auth::jwt_verifier check(s.auth.jwt, auth::jwt_keyring::load(s.auth.jwt));
        } catch (const std::exception& e) {
            throw config_error(source + ": auth.jwt: " + e.what());
        }
    }
    return s;
}

settings load_file(const std::string& path, const env_lookup& env) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec(errno, std::generic_category());
        throw config_error(path + ": cannot read the config file (" + ec.message() +
                           "); expected a readable YAML file, see config/sluice.yaml");
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw config_error(path + ": read error; expected a readable YAML file");
    auto base = std::filesystem::path(path).parent_path().string();
    return parse(text.str(), path, base, env);
}

}  // namespace sluice::config
