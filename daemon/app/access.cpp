#include "app/access.hpp"

#include <boost/beast/http/field.hpp>
#include <string>

#include "http/problem.hpp"
#include "streams/query.hpp"

namespace sluice::app {

access_rule rule_for(std::string_view method, std::string_view pattern) {
    access_rule r;
    if (pattern == "/healthz" || pattern == "/readyz") {
        r.open = r.operational = true;
    } else if (pattern == "/metrics" || pattern == "/v1/version") {
        r.act = auth::action::metrics;
        r.operational = true;
    } else if (pattern == "/v1/events" || pattern == "/v1/ws") {
        r.any_principal = r.public_only = true;
    } else if (pattern == "/v1/streams/{type}/events" ||
               ((pattern == "/v1/dlq/{type}" || pattern == "/v1/dlq/{type}/{entry}") &&
                method == "GET")) {
        r.act = auth::action::replay;
        r.type_param = "type";
    } else if (pattern.starts_with("/v1/streams/{type}/groups") ||
               pattern.starts_with("/v1/dlq/{type}")) {
        r.act = auth::action::admin;
        r.type_param = "type";
    }
    return r;
}

http::response unauthorized(std::string_view why, bool invalid_credentials) {
    http::problem p{401, "unauthorized", "Unauthorized", std::string(why), {}};
    auto res = http::make_problem(p);
    res.set(http::beast_http::field::www_authenticate,
            invalid_credentials ? R"(Bearer realm="sluice", error="invalid_token")"
                                : R"(Bearer realm="sluice")");
    return res;
}

http::response forbidden(std::string_view who, auth::action act, std::string_view type) {
    std::string detail = "'" + std::string(who) + "' may not " + std::string(auth::name_of(act));
    if (!type.empty() && act != auth::action::metrics) detail += " on this type";
    http::problem p{403, "forbidden", "Forbidden", std::move(detail),
                    R"("permission":")" + std::string(auth::name_of(act)) + '"'};
    return http::make_problem(p);
}

http::service::admission admit(const auth::authenticator& a, const http::request& req,
                               std::string_view pattern, const http::route_params& params,
                               const http::peer_info& from, bool split) {
    http::service::admission out;
    bool admin_listener = from.admin_listener;
    auto rule = rule_for(req.method_string(), pattern);
    if (split) {
        bool admin_route =
            rule.operational || (!rule.public_only && rule.act == auth::action::admin);
        if (admin_listener ? rule.public_only : admin_route) {
            http::problem p{404,
                            "not_found",
                            "No such resource",
                            admin_listener ? "this is the admin listener: publish and subscribe "
                                             "on the public one"
                                           : "served on the admin listener (admin_listen)",
                            {}};
            out.refused = http::make_problem(p);
            return out;
        }
        if (admin_listener && rule.operational) return out;
    }
    if (rule.open) return out;
    auto v =
        a.identify(req[http::beast_http::field::authorization], req["X-API-Key"], from.certificate);
    if (v.invalid) {
        out.refused = unauthorized(v.why, true);
        return out;
    }
    out.who = v.who;
    out.keep = v.keep;
    if (rule.any_principal) {
        // Anonymous where anonymous may do nothing at all: credentials are the way in.
        if (v.anonymous && v.who->grants.empty())
            out.refused = unauthorized(
                "this needs credentials: send Authorization: Bearer <API key> (docs/security.md)",
                false);
        return out;
    }
    std::string_view type = rule.type_param.empty() ? "*" : params.get(rule.type_param);
    if (v.who->may(rule.act, type)) return out;
    // Anonymous and refused: credentials would be the way in.
    out.refused = v.anonymous ? unauthorized(
                                    "this needs credentials: send Authorization: Bearer "
                                    "<API key> (docs/security.md)",
                                    false)
                              : forbidden(v.who->name, rule.act, type);
    return out;
}

namespace {

// A whole HTTP/1.1 answer as bytes, for a connection about to close.
std::string wire_of(const http::response& res) {
    std::string out = "HTTP/1.1 " + std::to_string(res.result_int()) + " " +
                      std::string(res.reason()) + "\r\nServer: sluice\r\n";
    for (const auto& f : res) {
        out += f.name_string();
        out += ": ";
        out += f.value();
        out += "\r\n";
    }
    out += "Connection: close\r\nContent-Length: " + std::to_string(res.body().size()) +
           "\r\n\r\n" + res.body();
    return out;
}

}  // namespace

deliver::ws_access websocket_access(const auth::holder& holder, const http::request& req,
                                    std::string_view certificate) {
    deliver::ws_access out;
    auto a = holder.get();
    std::string_view origin = req[http::beast_http::field::origin];
    if (!a->origin_allowed(origin, req[http::beast_http::field::host])) {
        http::problem p{403,
                        "origin_not_allowed",
                        "Origin not allowed",
                        "pages of this origin may not open a WebSocket here "
                        "(websocket.allowed_origins)",
                        {}};
        out.refusal = wire_of(http::make_problem(p));
        return out;
    }
    std::string_view authorization = req[http::beast_http::field::authorization];
    std::string_view key = req["X-API-Key"];
    std::string token;
    if (authorization.empty() && key.empty()) {
        std::string_view target = req.target();
        auto q = target.find('?');
        if (q != std::string_view::npos)
            if (auto params = streams::parse_query(target.substr(q + 1)))
                for (auto& p : *params)
                    if (p.name == "access_token") token = std::move(p.value);
    }
    auto v =
        token.empty() ? a->identify(authorization, key, certificate) : a->identify_token(token);
    if (v.invalid) {
        out.refusal = wire_of(unauthorized(v.why, true));
        return out;
    }
    // Anonymous that may do nothing: the socket opens, and its first frame must be auth.
    if (!(v.anonymous && v.who->grants.empty())) {
        out.opened.who = v.who;
        out.opened.keep = v.keep ? std::shared_ptr<const void>(v.keep) : a;
    }
    out.limit_subscribe = [&holder](const auth::principal* who) -> std::optional<long long> {
        if (auto wait = holder.get()->limit_subscribe(who)) return auth::retry_after_seconds(*wait);
        return std::nullopt;
    };
    if (!a->enabled()) return out;  // nothing to check, ever
    out.auth_timeout = a->auth_timeout();
    out.identify = [&holder](std::string_view credential) {
        deliver::ws_identity id;
        auto now = holder.get();
        auto found = now->identify_token(credential);
        if (found.invalid || !found.who) {
            id.why = found.invalid ? found.why : "the credentials are not valid";
            return id;
        }
        id.who = found.who;
        id.keep = found.keep ? std::shared_ptr<const void>(found.keep) : std::move(now);
        return id;
    };
    return out;
}

}  // namespace sluice::app
