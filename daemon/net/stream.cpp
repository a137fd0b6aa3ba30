#include "net/stream.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl/stream.hpp>

#include "net/tls_server_context.hpp"

namespace sluice::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Longest identity taken from a certificate; a longer one (or one with bytes that
// could forge a log line) names no principal.
constexpr std::size_t max_identity = 256;

std::string checked(const unsigned char* data, int length) {
    if (!data || length <= 0 || static_cast<std::size_t>(length) > max_identity) return {};
    std::string out(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
    for (unsigned char c : out)
        if (c < 0x20 || c == 0x7f) return {};
    return out;
}

std::string common_name(X509* cert) {
    X509_NAME* subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at < 0) return {};
    ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, value);
    std::string out = checked(utf8, n);
    OPENSSL_free(utf8);
    return out;
}

// The first subject alternative name of `type` (GEN_DNS, GEN_URI, GEN_EMAIL).
std::string alt_name(X509* cert, int type) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return {};
    std::string out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && out.empty(); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type != type) continue;
        ASN1_IA5STRING* s = n->d.ia5;  // dNSName, URI and rfc822Name are all IA5Strings
        out = checked(ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
    }
    GENERAL_NAMES_free(names);
    return out;
}

std::string identity_of(SSL* session, tls_server_settings::identity which) {
    X509* cert = SSL_get0_peer_certificate(session);
    if (!cert || SSL_get_verify_result(session) != X509_V_OK) return {};
    using id = tls_server_settings::identity;
    switch (which) {
        case id::common_name:
            return common_name(cert);
        case id::dns:
            return alt_name(cert, GEN_DNS);
        case id::uri:
            return alt_name(cert, GEN_URI);
        case id::email:
            return alt_name(cert, GEN_EMAIL);
    }
    return {};
}

}  // namespace

struct stream::tls_layer {
    tls_layer(tcp_socket s, std::shared_ptr<tls_server_context> c)
        : context(std::move(c)), ssl(std::move(s), context->ssl) {}
    std::shared_ptr<tls_server_context> context;  // outlives `ssl`, which uses it
    ssl::stream<tcp_socket> ssl;
};

stream::stream(tcp_socket socket) : socket_(std::move(socket)) {}

stream::stream(tcp_socket socket, std::shared_ptr<tls_server_context> tls)
    : socket_(socket.get_executor())
    , tls_(std::make_unique<tls_layer>(std::move(socket), std::move(tls))) {}

stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&&) noexcept = default;
stream::~stream() = default;

stream::tcp_socket& stream::tls_socket() {
    return tls_->ssl.next_layer();
}

asio::awaitable<stream::error_code> stream::handshake() {
    if (!tls_) co_return error_code{};
    auto [ec] = co_await tls_->ssl.async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec) peer_identity_ = identity_of(tls_->ssl.native_handle(), tls_->context->identity);
    co_return ec;
}

asio::awaitable<stream::io_result> stream::tls_read_some(asio::mutable_buffer b) {
    co_return co_await tls_->ssl.async_read_some(b, use_tuple);
}

asio::awaitable<stream::io_result> stream::tls_write(std::vector<asio::const_buffer> buffers) {
    co_return co_await asio::async_write(tls_->ssl, buffers, use_tuple);
}

asio::awaitable<void> stream::shutdown_send() {
    if (tls_) {
        // close_notify alone: SSL_shutdown's first call queues it, and what it queued
        // is flushed by writing nothing through the stream's engine.
        SSL* s = tls_->ssl.native_handle();
        if (SSL_is_init_finished(s) && !(SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN)) {
            auto [ec] = co_await tls_->ssl.async_shutdown(use_tuple);
            (void)ec;  // the peer need not answer: its TCP close ends the wait
        }
    }
    error_code ignored;
    socket().shutdown(tcp_socket::shutdown_send, ignored);
}

}  // namespace sluice::net
