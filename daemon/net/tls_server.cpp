#include "net/tls_server.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <ctime>
#include <stdexcept>

#include "net/tls_server_context.hpp"

namespace sluice::net {
namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's reason for the last failure, and its queue emptied.
std::string openssl_reason() {
    std::string out;
    while (auto e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        out = text;  // the last is the most specific
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

// The file holds a PEM private key (whichever certificate it belongs to).
bool is_private_key(const std::string& path) {
    BIO* in = BIO_new_file(path.c_str(), "r");
    if (!in) return false;
    EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO_free(in);
    ERR_clear_error();
    if (!key) return false;
    EVP_PKEY_free(key);
    return true;
}

[[noreturn]] void fail(std::string_view key, const std::string& file, const std::string& why) {
    throw std::runtime_error("tls_listen." + std::string(key) + " '" + file + "': " + why);
}

}  // namespace

std::vector<std::string> tls_files(const tls_server_settings& s) {
    std::vector<std::string> out{s.cert_file, s.key_file};
    if (!s.client_ca_file.empty()) out.push_back(s.client_ca_file);
    return out;
}

std::shared_ptr<tls_server_context> load_tls_server_context(const tls_server_settings& s) {
    auto out = std::make_shared<tls_server_context>(s.client_identity);
    SSL_CTX* ctx = out->ssl.native_handle();
    ERR_clear_error();
    // TLS 1.2 at least; compression and renegotiation off (CRIME, renegotiation floods).
    SSL_CTX_set_min_proto_version(ctx, s.min_version >= 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // An idle connection gives its read and write buffers back to OpenSSL's pool.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1)
        fail("cert_file", s.cert_file, "not a readable PEM certificate: " + openssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        auto why = openssl_reason();
        if (is_private_key(s.key_file))
            fail("key_file", s.key_file, "does not match the certificate in " + s.cert_file);
        fail("key_file", s.key_file, "not a readable PEM private key: " + why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        fail("key_file", s.key_file,
             "does not match the certificate in " + s.cert_file + ": " + openssl_reason());
    if (X509* cert = SSL_CTX_get0_certificate(ctx)) {
        std::tm expiry{};
        if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &expiry) == 1)
            out->not_after = static_cast<double>(timegm(&expiry));
    }
    if (!s.client_ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, s.client_ca_file.c_str(), nullptr) != 1)
            fail("client_ca_file", s.client_ca_file,
                 "not a readable PEM CA bundle: " + openssl_reason());
        // Tell clients which CAs we accept, so they pick the right certificate.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.client_ca_file.c_str());
        if (!names)
            fail("client_ca_file", s.client_ca_file,
                 "holds no CA certificate: " + openssl_reason());
        SSL_CTX_set_client_CA_list(ctx, names);
        int mode = SSL_VERIFY_PEER;
        if (s.require_client_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, nullptr);
        // Resumed sessions keep the client's verified certificate: they need an id.
        static const unsigned char id[] = "sluice";
        SSL_CTX_set_session_id_context(ctx, id, sizeof id - 1);
    }
    return out;
}

double certificate_expiry(const tls_server_context& c) {
    return c.not_after;
}

}  // namespace sluice::net
