#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <stdexcept>
#include <thread>

#include "http/service.hpp"
#include "metrics/registry.hpp"
#include "support/http_client.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using test::http_connection;

namespace {

namespace asio = boost::asio;

// A real server on a free port with three test routes: /hello, /echo (POST) and
// /slow (answers after 300 ms, to have a request in flight).
struct test_server {
    metrics::registry metrics;
    std::shared_ptr<http::service> api = std::make_shared<http::service>();
    std::unique_ptr<http::server> server;

    // `setup` adds routes or an upgrade handler before the server starts.
    using setup_fn = std::function<void(http::service&, http::server&)>;
    explicit test_server(http::limits l = small_limits(), const setup_fn& setup = {}) {
        api->route("GET", "/hello",
                   [](const http::request_context&) -> asio::awaitable<http::response> {
                       co_return http::make_response(200, "hello", "text/plain");
                   });
        api->route("POST", "/echo",
                   [](const http::request_context& c) -> asio::awaitable<http::response> {
                       co_return http::make_response(200, c.req.body(), "text/plain");
                   });
        api->route("GET", "/big",
                   [](const http::request_context&) -> asio::awaitable<http::response> {
                       co_return http::make_response(200, big_body(), "text/plain");
                   });
        api->route("GET", "/slow",
                   [](const http::request_context&) -> asio::awaitable<http::response> {
                       asio::steady_timer t(co_await asio::this_coro::executor, 300ms);
                       co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                       co_return http::make_response(200, "slow", "text/plain");
                   });
        server = std::make_unique<http::server>(http::server_options{"127.0.0.1", 0, 1}, api,
                                                metrics, l);
        if (setup) setup(*api, *server);
        server->start();
    }

    // More than loopback's socket buffers hold, so writing it must wait for the reader.
    static std::string big_body() {
        std::string b(24 * 1024 * 1024, 'x');
        for (std::size_t i = 0; i < b.size(); i += 4096)
            b[i] = static_cast<char>('a' + i / 4096 % 26);
        return b;
    }

    static http::limits small_limits() {
        http::limits l;
        l.max_body_bytes = 1024;
        l.max_header_bytes = 2048;
        // Long enough that a keep-alive connection outlives a slow (sanitized, loaded)
        // test between its requests; the idle-timeout test sets its own.
        l.idle_timeout = 10s;
        l.read_timeout = 300ms;
        l.write_timeout = 1s;
        l.max_connections = 100;
        return l;
    }

    std::uint16_t port() const { return server->port(); }

    // The metrics text once it contains `needle` (a request is counted just after
    // its response is written, so a client can read the response first).
    std::string metrics_with(const std::string& needle) {
        auto deadline = std::chrono::steady_clock::now() + 2s;
        auto text = metrics.serialize();
        while (text.find(needle) == std::string::npos &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(5ms);
            text = metrics.serialize();
        }
        return text;
    }
};

// With a limit of two connections: two are served, a third gets 503 with `code` and
// Retry-After. All three are closed on return.
void two_served_third_refused(std::uint16_t port, const std::string& code) {
    http_connection a(port), b(port);
    CHECK(a.request("GET", "/hello").status == 200);
    CHECK(b.request("GET", "/hello").status == 200);
    http_connection third(port);
    auto r = third.read_reply();
    CHECK(r.status == 503);
    CHECK_THAT(r.body, Contains(R"("code":")" + code + "\""));
    CHECK(r.header("Retry-After") == "1");
}

}  // namespace

TEST_CASE("keep-alive: several requests share one connection", "[http]") {
    test_server s;
    http_connection c(s.port());
    for (int i = 0; i < 3; ++i) {
        auto r = c.request("GET", "/hello");
        CHECK(r.status == 200);
        CHECK(r.body == "hello");
        CHECK(r.keep_alive);
    }
    auto e = c.request("POST", "/echo", "payload");
    CHECK(e.body == "payload");
}

TEST_CASE("pipelined requests are answered in order", "[http]") {
    test_server s;
    http_connection c(s.port());
    // /slow first: if responses were sent as handlers finish, /hello would overtake it.
    c.send(
        "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird");
    CHECK(c.read_reply().body == "slow");
    CHECK(c.read_reply().body == "hello");
    CHECK(c.read_reply().body == "third");
}

TEST_CASE("an unknown path is 404 problem+json", "[http]") {
    test_server s;
    auto r = test::http_get(s.port(), "/nowhere?x=1");
    CHECK(r.status == 404);
    CHECK(r.content_type == "application/problem+json");
    CHECK_THAT(r.body, Contains(R"("code":"not_found")"));
    CHECK_THAT(r.body, Contains("/nowhere"));
}

TEST_CASE("a wrong method is 405 with Allow", "[http]") {
    test_server s;
    http_connection c(s.port());
    auto r = c.request("DELETE", "/hello");
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, HEAD");
    CHECK_THAT(r.body, Contains(R"("code":"method_not_allowed")"));
    // The connection survives a 405.
    CHECK(c.request("GET", "/hello").status == 200);
}

TEST_CASE("HEAD answers headers only", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = c.read_reply(true);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "5");
    CHECK(head.body.empty());
    // Had the HEAD reply carried a body, these bytes would be shifted.
    auto get = c.read_reply();
    CHECK(get.status == 200);
    CHECK(get.body == "hello");
}

TEST_CASE("an HTTP/1.0 client is answered in 1.0 and kept alive only when it asks", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto kept = c.read_reply();
    CHECK(kept.version == 10);
    CHECK(kept.status == 200);
    CHECK(kept.header("Connection") == "keep-alive");
    CHECK(kept.body == "hello");
    c.send("GET /hello HTTP/1.0\r\n\r\n");
    auto last = c.read_reply();
    CHECK(last.version == 10);
    CHECK(last.body == "hello");
    CHECK_FALSE(last.keep_alive);
    CHECK(c.closed_by_peer(1s));
}

TEST_CASE("a client's Connection: close is answered with close, then the server hangs up",
          "[http]") {
    test_server s;
    http_connection c(s.port());
    auto r = c.request("GET", "/hello", "", "Connection: close\r\n");
    CHECK(r.status == 200);
    CHECK(r.header("Connection") == "close");
    CHECK(r.header("Server") == "sluice");
    CHECK(c.closed_by_peer(1s));
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is sent", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    CHECK(c.read_reply(true).status == 100);
    c.send("ping");
    auto r = c.read_reply();
    CHECK(r.status == 200);
    CHECK(r.body == "ping");

    // An HTTP/1.0 client's expectation is ignored: the next answer is the echo.
    http_connection old(s.port());
    old.send("POST /echo HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    std::this_thread::sleep_for(100ms);
    old.send("pong");
    auto o = old.read_reply();
    CHECK(o.status == 200);
    CHECK(o.body == "pong");
}

TEST_CASE("a response larger than the socket buffers reaches a slow reader whole", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(300ms);  // the server's first write cannot take it all
    auto big = c.read_reply();
    CHECK(big.status == 200);
    CHECK(big.body.size() == test_server::big_body().size());
    CHECK((big.body == test_server::big_body()));
    CHECK(c.read_reply().body == "hello");
}

TEST_CASE("a client that stops reading a response is cut after the write timeout", "[http]") {
    test_server s;  // write_timeout 1 s
    http_connection c(s.port(), 5s);
    c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(1500ms);
    // What the kernel buffered can still be read; then the connection ends short.
    CHECK_THROWS(c.read_reply());
}

TEST_CASE("a body over the limit is 413 and the connection closes", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
           std::string(5000, 'a'));
    auto r = c.read_reply();
    CHECK(r.status == 413);
    CHECK_THAT(r.body, Contains(R"("code":"body_too_large")"));
    CHECK_THAT(r.body, Contains("1024 bytes"));
    CHECK_FALSE(r.keep_alive);
    CHECK(c.closed_by_peer(2s));
}

TEST_CASE("headers over the limit are 431", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n");
    auto r = c.read_reply();
    CHECK(r.status == 431);
    CHECK_THAT(r.body, Contains(R"("code":"headers_too_large")"));
}

TEST_CASE("a request that stalls midway is 408 after the read timeout", "[http]") {
    test_server s;
    http_connection c(s.port());
    auto started = std::chrono::steady_clock::now();
    c.send("GET /hello HTTP/1.1\r\nHost: x\r\n");  // no blank line: the header never ends
    auto r = c.read_reply();
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(r.status == 408);
    CHECK_THAT(r.body, Contains(R"("code":"request_timeout")"));
    CHECK(waited >= 250ms);
    CHECK(c.closed_by_peer(2s));
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout", "[http]") {
    auto l = test_server::small_limits();
    l.idle_timeout = 400ms;
    test_server s(l);
    http_connection c(s.port());
    CHECK(c.request("GET", "/hello").status == 200);
    CHECK_FALSE(c.closed_by_peer(100ms));  // still open shortly after
    CHECK(c.closed_by_peer(2s));           // closed once idle_timeout (400 ms) passed
}

TEST_CASE("bytes that are not HTTP are 400", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("THIS IS NOT HTTP\r\n\r\n");
    auto r = c.read_reply();
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Contains(R"("code":"bad_request")"));
}

TEST_CASE("connections above max_connections get 503", "[http]") {
    auto l = test_server::small_limits();
    l.max_connections = 2;
    test_server s(l);
    two_served_third_refused(s.port(), "too_many_connections");
}

TEST_CASE("drain closes idle connections and lets in-flight requests finish", "[http]") {
    test_server s;
    http_connection idle(s.port()), busy(s.port());
    CHECK(idle.request("GET", "/hello").status == 200);
    busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(50ms);
    s.server->drain();
    CHECK(idle.closed_by_peer(2s));
    auto r = busy.read_reply();
    CHECK(r.status == 200);
    CHECK(r.body == "slow");
    CHECK_FALSE(r.keep_alive);
    // The listener is closed: new connections are refused.
    CHECK_THROWS(http_connection(s.port()));
}

TEST_CASE("limits changed at runtime apply to the next request", "[http]") {
    test_server s;
    http_connection c(s.port());
    CHECK(c.request("POST", "/echo", std::string(800, 'x')).status == 200);
    auto l = test_server::small_limits();
    l.max_body_bytes = 100;
    s.server->set_limits(l);
    CHECK(c.request("POST", "/echo", std::string(800, 'x')).status == 413);
}

TEST_CASE("requests are counted by route and status in the metrics", "[http]") {
    test_server s;
    test::http_get(s.port(), "/hello");
    test::http_get(s.port(), "/missing");
    auto text = s.metrics_with(R"(route="unmatched",status="404"} 1)");
    CHECK_THAT(
        text,
        Contains(R"(sluice_http_requests_total{method="GET",route="/hello",status="200"} 1)"));
    CHECK_THAT(
        text,
        Contains(R"(sluice_http_requests_total{method="GET",route="unmatched",status="404"} 1)"));
    CHECK_THAT(text, Contains(R"(sluice_http_request_duration_seconds_count{route="/hello"} 1)"));
}

TEST_CASE("several I/O threads share the port and serve every connection", "[http]") {
    metrics::registry m;
    auto api = std::make_shared<http::service>();
    api->route("GET", "/hello",
               [](const http::request_context&) -> asio::awaitable<http::response> {
                   co_return http::make_response(200, "hello", "text/plain");
               });
    http::server server({"127.0.0.1", 0, 2}, api, m, test_server::small_limits());
    server.start();
    int ok = 0;
    for (int i = 0; i < 20; ++i) ok += test::http_get(server.port(), "/hello").body == "hello";
    CHECK(ok == 20);
    server.stop();
}

TEST_CASE("every request gets what its own I/O thread lends, and nothing lent is a 500", "[http]") {
    // What each thread lends: its index and its executor, to check the handler ran there.
    struct lent_thread {
        int index;
        asio::any_io_executor executor;
    };
    metrics::registry m;
    auto api = std::make_shared<http::service>();
    api->route(
        "GET", "/which", [](const http::request_context& c) -> asio::awaitable<http::response> {
            auto& t = c.worker.get<lent_thread>();
            bool here = t.executor == co_await asio::this_coro::executor;
            co_return http::make_response(
                200, std::to_string(t.index) + (here ? " here" : " elsewhere"), "text/plain");
        });
    api->route("GET", "/unlent",
               [](const http::request_context& c) -> asio::awaitable<http::response> {
                   c.worker.get<std::string>();  // no thread lends one
                   co_return http::make_response(200, "unexpected", "text/plain");
               });
    http::server server({"127.0.0.1", 0, 2}, api, m, test_server::small_limits());
    auto executors = server.executors();
    std::vector<lent_thread> threads;
    for (std::size_t i = 0; i < executors.size(); ++i)
        threads.push_back({static_cast<int>(i), executors[i]});
    for (std::size_t i = 0; i < threads.size(); ++i) {
        http::worker_slot slot;
        slot.lend(threads[i]);
        server.set_worker(i, slot);
    }
    server.start();
    for (int i = 0; i < 20; ++i) {
        auto body = test::http_get(server.port(), "/which").body;
        CHECK((body == "0 here" || body == "1 here"));
    }
    CHECK(test::http_get(server.port(), "/unlent").status == 500);
    server.stop();
}

TEST_CASE("methods the server does not know share one metrics label", "[http]") {
    test_server s;
    for (int i = 0; i < 3; ++i) {
        http_connection c(s.port());
        auto r = c.request("FOO" + std::to_string(i), "/hello");
        CHECK(r.status == 405);
    }
    auto text = s.metrics_with(R"(status="405"} 3)");
    CHECK_THAT(
        text,
        Contains(R"(sluice_http_requests_total{method="OTHER",route="unmatched",status="405"} 3)"));
    CHECK_THAT(text, !Contains("FOO"));
}

TEST_CASE("a chunked body's trailer over the header limit is 431, never a crash", "[http]") {
    test_server s;  // max_header_bytes 2048
    // 65,534 bytes: the size at which the HTTP parser's field store throws.
    for (std::size_t size : {std::size_t(65'534), std::size_t(3'000)}) {
        INFO("a trailer field of " << size << " bytes");
        http_connection c(s.port());
        c.send(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
            "X-T: " +
            std::string(size, 't') + "\r\n\r\n");
        auto r = c.read_reply();
        CHECK(r.status == 431);
        CHECK_THAT(r.body, Contains(R"("code":"headers_too_large")"));
        CHECK_THAT(r.body, Contains("trailer"));
    }
    // A small trailer is fine, and the server still serves.
    http_connection c(s.port());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
        "X-T: small\r\n\r\n");
    auto r = c.read_reply();
    CHECK(r.status == 200);
    CHECK(r.body == "{}");
    CHECK(http_connection(s.port()).request("GET", "/hello").status == 200);
}

TEST_CASE("a header field too long for the parser is 431 whatever the configured limit", "[http]") {
    auto l = test_server::small_limits();
    l.max_header_bytes = 1024 * 1024;  // above what the parser can hold per field
    test_server s(l);
    http_connection c(s.port());
    c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(65'534, 'b') + "\r\n\r\n");
    auto r = c.read_reply();
    CHECK(r.status == 431);
    CHECK(http_connection(s.port()).request("GET", "/hello").status == 200);
}

TEST_CASE("an exception that escapes to an I/O thread is counted and the thread serves on",
          "[http]") {
    // A completion handler that throws, as a defect in a composed operation would:
    // it runs outside any coroutine, straight from the I/O thread's loop.
    test_server s(test_server::small_limits(), [](http::service& api, http::server&) {
        api.route("GET", "/throw-later",
                  [](const http::request_context&) -> asio::awaitable<http::response> {
                      asio::post(co_await asio::this_coro::executor,
                                 [] { throw std::runtime_error("injected failure"); });
                      co_return http::make_response(200, "thrown", "text/plain");
                  });
    });
    http_connection c(s.port());
    CHECK(c.request("GET", "/throw-later").status == 200);
    CHECK(c.request("GET", "/hello").status == 200);
    CHECK(http_connection(s.port()).request("GET", "/hello").status == 200);
    CHECK_THAT(s.metrics_with(R"(sluice_internal_errors_total{where="io_loop"} 1)"),
               Contains(R"(sluice_internal_errors_total{where="io_loop"} 1)"));
}

TEST_CASE("a connection whose handler throws is closed alone, and the server serves on", "[http]") {
    test_server s(test_server::small_limits(), [](http::service&, http::server& server) {
        server.set_upgrade_handler(
            "/boom", [](sluice::net::stream, http::request, std::string, const http::worker_slot&,
                        http::connection_lease) { throw std::runtime_error("injected failure"); });
    });
    http_connection other(s.port());
    CHECK(other.request("GET", "/hello").status == 200);
    http_connection c(s.port());
    c.send(
        "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    CHECK(c.closed_by_peer(2s));
    CHECK(other.request("GET", "/hello").status == 200);
    CHECK(http_connection(s.port()).request("GET", "/hello").status == 200);
    CHECK_THAT(s.metrics_with(R"(sluice_internal_errors_total{where="http_session"} 1)"),
               Contains(R"(sluice_internal_errors_total{where="http_session"} 1)"));
}

TEST_CASE("a connection that sends nothing is closed after the first-byte timeout", "[http]") {
    auto l = test_server::small_limits();
    l.first_byte_timeout = 150ms;
    l.idle_timeout = 3s;
    test_server s(l);
    http_connection silent(s.port()), talking(s.port());
    CHECK(talking.request("GET", "/hello").status == 200);
    CHECK(silent.closed_by_peer(1s));
    // One that sent a request is under the idle timeout from then on.
    CHECK_FALSE(talking.closed_by_peer(300ms));
    CHECK(talking.request("GET", "/hello").status == 200);
    CHECK_THAT(s.metrics_with("sluice_http_first_byte_timeouts_total 1"),
               Contains("sluice_http_first_byte_timeouts_total 1"));
    // Every limit without a metric of its own has its series, from the start.
    CHECK_THAT(s.metrics_with(R"(sluice_limits_reached_total{limit="http.idle_timeout"} 0)"),
               Contains(R"(sluice_limits_reached_total{limit="websocket.send_timeout"} 0)"));
    // Quiet past the idle timeout: closed, and counted as the idle timeout's.
    CHECK(talking.closed_by_peer(5s));
    CHECK_THAT(s.metrics_with(R"(sluice_limits_reached_total{limit="http.idle_timeout"} 1)"),
               Contains(R"(sluice_limits_reached_total{limit="http.idle_timeout"} 1)"));
}

TEST_CASE("one client address may hold max_connections_per_client connections", "[http]") {
    auto l = test_server::small_limits();
    l.max_connections_per_client = 2;
    test_server s(l);
    two_served_third_refused(s.port(), "too_many_client_connections");
    // Closed connections give their slots back.
    std::this_thread::sleep_for(100ms);
    two_served_third_refused(s.port(), "too_many_client_connections");
    CHECK_THAT(
        s.metrics_with(R"(sluice_http_connections_refused_total{reason="per_client_limit"} 2)"),
        Contains(R"(sluice_http_connections_refused_total{reason="per_client_limit"} 2)"));
}

TEST_CASE("a 404 for a path that is not UTF-8 is still valid JSON", "[http]") {
    test_server s;
    http_connection c(s.port());
    c.send("GET /\xff\xfe/x HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read_reply();
    CHECK(r.status == 404);
    CHECK(r.body.find('\xff') == std::string::npos);
    CHECK_THAT(r.body, Contains(R"(no route for /\ufffd\ufffd/x)"));
}
