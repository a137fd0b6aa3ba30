#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::redis {

// A host and port, e.g. a sentinel's.
struct node_address {
    std::string host;
    std::uint16_t port = 0;
    std::string display() const {
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
               std::to_string(port);
    }
};

// Where Redis is and how to reach it. A plain value, header only: the config layer
// parses redis://, rediss:// and unix:// URLs into it (config/redis_url.hpp), tests
// and benches set it by hand, so this layer needs nothing of the config.
struct endpoint {
    enum class transport { tcp, tls, unix_socket };

    transport kind = transport::tcp;
    std::string host = "127.0.0.1";  // tcp and tls
    std::uint16_t port = 6379;       // tcp and tls
    std::string path;                // unix_socket
    std::string username;            // empty: the default user
    std::string password;            // empty: no AUTH
    int db = 0;                      // SELECT after connecting when not 0

    // Sentinel mode (redis+sentinel://): the sentinels to ask and the name of the
    // master they watch; host and port are then where they last said it is. The
    // sentinels have credentials of their own (their ACL is not the data nodes').
    std::vector<node_address> sentinels;
    std::string master_name;
    std::string sentinel_username;
    std::string sentinel_password;
    bool is_sentinel() const { return !sentinels.empty(); }

    // host:port or the socket path, without credentials: safe to log.
    std::string display() const {
        if (is_sentinel()) {
            std::string out = "sentinel " + master_name + " via ";
            for (std::size_t i = 0; i < sentinels.size(); ++i)
                out += (i ? "," : "") + sentinels[i].display();
            return out;
        }
        switch (kind) {
            case transport::unix_socket:
                return "unix:" + path;
            case transport::tls:
                return "tls:" + host + ":" + std::to_string(port);
            case transport::tcp:
                break;
        }
        return host + ":" + std::to_string(port);
    }
};

// How a `transport::tls` endpoint is verified and how we prove who we are.
struct tls_options {
    std::string ca_file;      // empty: the system's trust store
    std::string cert_file;    // client certificate (optional)
    std::string key_file;     // its private key (with cert_file)
    std::string server_name;  // SNI and certificate check; empty: the endpoint's host
    bool verify = true;
};

}  // namespace sluice::redis
