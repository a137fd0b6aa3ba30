#pragma once

#include <string_view>

#include <memory>

#include "auth/authenticator.hpp"
#include "deliver/subscription.hpp"
#include "http/service.hpp"

namespace sluice::app {

// What each route of the broker requires (docs/security.md, "Permissions"):
//   /healthz, /readyz                       anyone (probes)
//   /metrics, /v1/version                   metrics
//   POST /v1/events                         publish, checked per event by its type
//   GET /v1/streams/{type}/events           replay on {type}
//   GET /v1/dlq/{type}                      replay on {type}
//   GET|PUT /v1/streams/{type}/groups...    admin on {type}
//   POST /v1/dlq/{type}/requeue, DELETE     admin on {type}
//   GET /v1/ws                              any principal; each op checks its own
// A route not listed needs admin on every type ("*"), so a new route is closed until
// it is given a rule.
struct access_rule {
    bool operational = false;    // probes, metrics, version: the admin listener's, with one
    bool public_only = false;    // publish and WebSocket: never on the admin listener
    bool open = false;           // no credentials needed, none checked
    bool any_principal = false;  // the handler checks (publish, WebSocket ops)
    auth::action act = auth::action::admin;
    std::string_view type_param;  // the route parameter naming the type ("" = "*")
};
access_rule rule_for(std::string_view method, std::string_view pattern);

// Admits or refuses a request to `pattern` by its credentials and the rule: 401
// `unauthorized` (no credentials where some are needed, or bad ones; with
// WWW-Authenticate), 403 `forbidden` (a principal without the permission). Sans-I/O.
// With an admin listener (`split`), the public one answers 404 for operational and
// admin routes and the admin one 404 for publish and WebSocket; on the admin listener
// the operational routes need no credentials. A request without credentials on a
// connection with a verified client certificate acts as the certificate's principal.
http::service::admission admit(const auth::authenticator& a, const http::request& req,
                               std::string_view pattern, const http::route_params& params,
                               const http::peer_info& from = {}, bool split = false);

// Who opens a WebSocket: credentials from Authorization, X-API-Key or the
// `access_token` query parameter (browsers cannot set headers). Bad credentials are
// refused with 401 instead of the upgrade, a page whose Origin is not allowed with
// 403; a socket opened without credentials acts as anonymous, or (when anonymous may
// do nothing) must send an `auth` frame first. Later `auth` frames are checked
// against the authenticator in service then. `certificate`: the identity in the
// connection's verified client certificate, used when no credentials are sent.
deliver::ws_access websocket_access(const auth::holder& holder, const http::request& req,
                                    std::string_view certificate = {});

// The 401 and 403 answers, also used by the WebSocket upgrade.
http::response unauthorized(std::string_view why, bool invalid_credentials);
http::response forbidden(std::string_view who, auth::action act, std::string_view type);

}  // namespace sluice::app
