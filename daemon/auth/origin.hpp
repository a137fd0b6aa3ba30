#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::auth {

// Whether a browser page from `origin` (the Origin header of a WebSocket upgrade) may
// open a socket to a broker reached as `host` (the Host header). Sans-I/O.
//  - No Origin header (empty): not a browser; allowed.
//  - `allowed` empty: only the broker's own origin, an Origin whose host[:port] is the
//    Host header.
//  - Else an entry equal to the origin ("https://app.example.com", with ":port" when
//    the page's origin has one), or a wildcard "https://*.example.com" matching any
//    subdomain of example.com (not example.com itself) with that scheme and port.
// Compared case-insensitively. "null" (sandboxed pages, files) passes only when listed.
bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& allowed);

// Empty when `entry` may be used in websocket.allowed_origins, else why not.
std::string origin_entry_problem(std::string_view entry);

}  // namespace sluice::auth
