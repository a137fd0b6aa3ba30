#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "redis/endpoint.hpp"

namespace sluice::config {

// Where and how to reach Redis: the Redis layer's own plain value (header only, so
// the config links nothing of that layer).
using redis_endpoint = redis::endpoint;

// Parses
//   redis://[[user][:password]@]host[:port][/db]
//   rediss://[[user][:password]@]host[:port][/db]     (TLS)
//   unix://[[user][:password]@]/path/to/socket[?db=N]
//   redis+sentinel://[[user][:password]@]h1[:26379][,h2[:26379]...]/master[?db=N]
//   rediss+sentinel://...                              (TLS to sentinels and nodes)
// User and password are percent-decoded; IPv6 hosts go in brackets.
// Returns nullopt and sets `why` (what is wrong, for the user) on a malformed URL.
std::optional<redis_endpoint> parse_redis_url(std::string_view url, std::string& why);

// host:port (or [v6]:port; the port may be left out) into `out`, whose port stays
// as it is when none is given. False, with `why`, when it is not that.
bool parse_host_port_into(std::string_view text, redis::node_address& out, std::string& why);

// Decodes %XX escapes (RFC 3986); nothing when an escape is malformed. Used for the
// credentials of Redis URLs and for HTTP query strings.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace sluice::config
