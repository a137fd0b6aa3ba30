#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sluice::net {

// The `tls_listen:` certificate settings: what the HTTPS and WSS listener presents,
// and how it checks client certificates (mTLS).
struct tls_server_settings {
    std::string cert_file;       // PEM: the server certificate, then its chain
    std::string key_file;        // PEM: its private key
    std::string client_ca_file;  // PEM: CAs that sign client certificates; empty: no mTLS
    bool require_client_certificate = true;  // with client_ca_file: no certificate, no handshake
    // Which part of a verified client certificate names its principal (auth.certificates).
    enum class identity { common_name, dns, uri, email } client_identity = identity::common_name;
    int min_version = 12;  // 12: TLS 1.2, 13: TLS 1.3
};

// The files `s` reads, for the reload watcher.
std::vector<std::string> tls_files(const tls_server_settings& s);

// A loaded certificate, key and client CA list (an OpenSSL SSL_CTX). Immutable once
// built; a reload builds a new one, and each connection keeps the one it began with.
class tls_server_context;

// Reads and checks the files. Throws std::runtime_error naming the file and what is
// wrong with it (missing, not PEM, a key that does not match the certificate).
std::shared_ptr<tls_server_context> load_tls_server_context(const tls_server_settings& s);

// When the certificate `c` presents expires, in seconds since the epoch.
double certificate_expiry(const tls_server_context& c);

}  // namespace sluice::net
