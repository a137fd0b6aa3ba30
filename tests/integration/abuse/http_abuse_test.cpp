// Attacks on the HTTP listener of the real binary: requests built to crash the
// parser, and sockets that hold slots without sending. After each: the process
// is alive and /healthz answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "integration/abuse/abuse.hpp"
#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// A TCP connection to 127.0.0.1:`port` from the source address `from` (any
// 127.x.y.z is loopback): another client, as far as the broker can tell.
struct raw_socket {
    int fd = -1;
    raw_socket(const char* from, std::uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in src{};
        src.sin_family = AF_INET;
        ::inet_pton(AF_INET, from, &src.sin_addr);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0);
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
    }
    ~raw_socket() { ::close(fd); }
    // What the server sends within `wait`, up to its close ("" when nothing).
    std::string read_all(std::chrono::milliseconds wait) {
        timeval tv{static_cast<time_t>(wait.count() / 1000),
                   static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string out;
        char buf[4096];
        for (;;) {
            auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
    void send_all(const std::string& bytes) {
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
};

}  // namespace

TEST_CASE("abuse: the trailer and header fields that crashed the parser get 431", "[abuse]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(), "http:\n  max_header_bytes: 64KiB\n");
    auto broker = test::start_broker(cfg);
    const std::string chunked =
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
    for (int round = 0; round < 3; ++round) {
        test::http_connection c(cfg.port);
        c.send(chunked + "X-T: " + std::string(65'534, 't') + "\r\n\r\n");
        CHECK(c.read_reply().status == 431);
        test::http_connection h(cfg.port);
        h.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(65'534, 'b') +
               "\r\n\r\n");
        CHECK(h.read_reply().status == 431);
    }
    CHECK_FALSE(broker->wait(0ms));  // still running
    CHECK(test::healthz_ms(cfg.port) < 1000);
    CHECK(broker->output().find("terminate") == std::string::npos);
}

TEST_CASE("abuse: silent sockets cannot lock other clients out", "[abuse]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url(),
                            "http:\n  max_connections: 40\n  max_connections_per_client: 20\n"
                            "  first_byte_timeout: 300ms\n");
    auto broker = test::start_broker(cfg);
    // One client opens as many silent sockets as it may, then more.
    std::vector<std::unique_ptr<raw_socket>> silent;
    for (int i = 0; i < 25; ++i)
        silent.push_back(std::make_unique<raw_socket>("127.0.0.2", cfg.port));
    // Those past its share were turned away at once.
    std::size_t refused = 0;
    for (std::size_t i = 20; i < silent.size(); ++i)
        if (silent[i]->read_all(1s).find("too_many_client_connections") != std::string::npos)
            ++refused;
    CHECK(refused == 5);
    // Another client is served meanwhile.
    {
        raw_socket other("127.0.0.3", cfg.port);
        other.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK_THAT(other.read_all(2s), Contains("200 OK"));
    }
    // And the silent ones are closed after the first-byte timeout, not the idle one.
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) silent[static_cast<std::size_t>(i)]->read_all(3s);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    auto metrics = test::http_get(cfg.port, "/metrics").body;
    CHECK_THAT(metrics, Contains("sluice_http_first_byte_timeouts_total 20"));
    CHECK_THAT(metrics,
               Contains(R"(sluice_http_connections_refused_total{reason="per_client_limit"} 5)"));
    CHECK(test::healthz_ms(cfg.port) < 1000);
}

namespace {

// The data of a user.created event that breaks its contract `extra` times:
// additionalProperties is false.
std::string bad_data(int extra) {
    std::string data =
        R"({"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"a@example.com")";
    for (int i = 0; i < extra; ++i) data += ",\"x" + std::to_string(i) + "\":" + std::to_string(i);
    return data + "}";
}

// In the simple envelope, for a single publish.
std::string bad_event(int extra) {
    return R"({"type":"user.created","data":)" + bad_data(extra) + "}";
}

// A batch of `n` such CloudEvents.
std::string bad_batch(int n, int extra) {
    std::string batch = "[";
    for (int i = 0; i < n; ++i)
        batch += std::string(i ? "," : "") +
                 R"({"specversion":"1.0","type":"user.created","source":"/t","id":"e-)" +
                 std::to_string(i) + R"(","data":)" + bad_data(extra) + "}";
    return batch + "]";
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("abuse: bad events earn answers of bounded size, and say what was left out", "[abuse]") {
    test::redis_server redis;
    SECTION("the caps from the config") {
        test::broker_config cfg(redis.url(),
                                "publish:\n  max_violations: 3\n  max_answer_bytes: 4KiB\n");
        auto broker = test::start_broker(cfg);
        test::http_connection c(cfg.port);
        auto one =
            c.request("POST", "/v1/events", bad_event(10), "Content-Type: application/json\r\n");
        CHECK(one.status == 422);
        CHECK(count_of(one.body, R"("instanceLocation")") == 3);
        CHECK_THAT(one.body, Contains(R"("truncated":true)"));
        auto few =
            c.request("POST", "/v1/events", bad_event(2), "Content-Type: application/json\r\n");
        CHECK(count_of(few.body, R"("instanceLocation")") == 2);
        CHECK_THAT(few.body, Contains(R"("truncated":false)"));

        auto r = c.request("POST", "/v1/events", bad_batch(1000, 10),
                           "Content-Type: application/cloudevents-batch+json\r\n");
        CHECK(r.status == 207);
        CHECK_THAT(r.body,
                   Contains(R"("stored":0,"failed":1000,"truncated":true,"violations_left_out":)"));
        // 4 KiB of explanations, then each item's status and code.
        CHECK(r.body.size() < 4096 + 1000 * 300);
    }
    SECTION("the defaults") {
        test::broker_config cfg(redis.url(), "");
        auto broker = test::start_broker(cfg);
        auto batch = bad_batch(1000, 20);
        test::http_connection c(cfg.port);
        auto r = c.request("POST", "/v1/events", batch,
                           "Content-Type: application/cloudevents-batch+json\r\n");
        CHECK(r.status == 207);
        INFO("a batch of " << batch.size() << " bytes got an answer of " << r.body.size());
        CHECK(r.body.size() < 256 * 1024 + 1000 * 400);
        CHECK(r.body.size() < 4 * batch.size());
        CHECK(test::healthz_ms(cfg.port) < 1000);
    }
    SECTION("empty objects: each item's answer is larger than the item") {
        // 3 KB of `[{},{},...]` got 185 KB (62x) when every item carried its whole
        // problem: past a budget of a few times the request, items keep status and code.
        test::broker_config cfg(redis.url(), "");
        auto broker = test::start_broker(cfg);
        auto before = broker->resident_kib();
        std::string batch = "[{}";
        for (int i = 1; i < 1000; ++i) batch += ",{}";
        batch += ']';
        test::http_connection c(cfg.port);
        for (int round = 0; round < 50; ++round) {
            auto r = c.request("POST", "/v1/events", batch,
                               "Content-Type: application/cloudevents-batch+json\r\n");
            REQUIRE(r.status == 207);
            if (round > 0) continue;
            INFO("a batch of " << batch.size() << " bytes got an answer of " << r.body.size());
            // The budget (4 KiB and 4 bytes per request byte), then ~57 bytes an item.
            CHECK(r.body.size() < 4096 + 4 * batch.size() + 1000 * 64);
            CHECK(r.body.size() < 25 * batch.size());
            CHECK_THAT(r.body, Contains(R"("stored":0,"failed":1000,"truncated":true)"));
            // Every item still says what was wrong with it.
            CHECK(count_of(r.body, R"({"status":400,"problem":{)") == 1000);
            CHECK(count_of(r.body, R"("code":"invalid_cloudevent")") == 1000);
        }
        CHECK(test::healthz_ms(cfg.port) < 1000);
        auto after = test::settle_resident_kib(*broker, before, 16 * 1024, 5s);
        CHECK(after < before + 16 * 1024);
    }
}
