#pragma once

// Beast message types and the handler signature. Include only where requests are
// handled (sessions, endpoint files): Beast's HTTP headers are heavy.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory_resource>

#include "http/connection_lease.hpp"
#include "http/problem.hpp"
#include "http/router.hpp"
#include "http/worker_slot.hpp"
#include "net/stream.hpp"

namespace sluice::auth {
struct principal;
}

namespace sluice::http {

namespace beast_http = boost::beast::http;
// A request's header fields come from an allocator the session gives its parser (an
// arena reset per request, so the fields of a request cost no allocation); one made
// elsewhere uses the default resource.
using request_fields = beast_http::basic_fields<std::pmr::polymorphic_allocator<char>>;
using request = beast_http::message<true, beast_http::string_body, request_fields>;
using response = beast_http::response<beast_http::string_body>;

// What a request's connection tells of its sender.
struct peer_info {
    std::string_view address;  // the client's IP address ("" when unknown)
    // The identity in the client's verified TLS certificate (tls_listen with a
    // client_ca_file), else "".
    std::string_view certificate;
    bool admin_listener = false;  // accepted on admin_listen
};

struct request_context {
    const request& req;
    const route_params& params;
    std::string_view path;      // without the query string
    std::string_view query;     // after '?', empty when absent
    const worker_slot& worker;  // what the serving I/O thread lends (its store, its hub...)
    // Who sent it, as the service's gate found (null when the service has no gate).
    const auth::principal* who = nullptr;
    std::string_view client;  // the peer's address ("" when unknown)
};

// Handles one matched request. Runs on the connection's I/O thread; may co_await.
// Keep-alive, Server and Content-Length are set by the session afterwards.
using handler = std::function<boost::asio::awaitable<response>(const request_context&)>;

// Takes over a connection whose request asked for a protocol upgrade (WebSocket):
// its stream (the HTTP session is over once it returns), the request, any bytes read
// after it, what the connection's I/O thread lends, and the connection's lease (hold
// it as long as the connection lives). Runs on the connection's I/O thread and must
// not block: it starts whatever serves the connection and returns.
using upgrade_handler =
    std::function<void(sluice::net::stream stream, request req, std::string leftover,
                       const worker_slot& worker, connection_lease lease)>;

// A response with `body` and `content_type`.
response make_response(unsigned status, std::string body, std::string_view content_type);

// A problem+json response.
response make_problem(const problem& p);

}  // namespace sluice::http
