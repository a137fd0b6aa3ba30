#pragma once

// What a loaded tls_server_context holds. Only stream.cpp and tls_server.cpp include
// this: Asio's SSL and OpenSSL headers stay out of everything else.

#include <boost/asio/ssl/context.hpp>

#include "net/tls_server.hpp"

namespace sluice::net {

class tls_server_context {
  public:
    explicit tls_server_context(tls_server_settings::identity id)
        : ssl(boost::asio::ssl::context::tls_server), identity(id) {}
    boost::asio::ssl::context ssl;
    tls_server_settings::identity identity;
    double not_after = 0;  // the certificate's expiry, Unix time
};

}  // namespace sluice::net
