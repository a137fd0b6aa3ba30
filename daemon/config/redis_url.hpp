#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

// Where and how to reach Redis, as given by a redis://, rediss:// or unix:// URL.
struct redis_endpoint {
    enum class transport { tcp, tls, unix_socket };

    transport kind = transport::tcp;
    std::string host = "127.0.0.1";  // tcp and tls
    std::uint16_t port = 6379;       // tcp and tls
    std::string path;                // unix_socket
    std::string username;            // empty: the default user
    std::string password;            // empty: no AUTH
    int db = 0;

    // host:port or the socket path, without credentials: safe to log.
    std::string display() const;
};

// Parses
//   redis://[[user][:password]@]host[:port][/db]
//   rediss://[[user][:password]@]host[:port][/db]     (TLS)
//   unix://[[user][:password]@]/path/to/socket[?db=N]
// User and password are percent-decoded; IPv6 hosts go in brackets.
// Returns nullopt and sets `why` (what is wrong, for the user) on a malformed URL.
std::optional<redis_endpoint> parse_redis_url(std::string_view url, std::string& why);

// Decodes %XX escapes (RFC 3986); nothing when an escape is malformed. Used for the
// credentials of Redis URLs and for HTTP query strings.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace sluice::config
