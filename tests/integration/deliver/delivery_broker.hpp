#pragma once

// A real broker on a real redis-server for the delivery tests, and the events they
// publish through it.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "support/broker_process.hpp"
#include "support/http_client.hpp"
#include "support/ws_client.hpp"

namespace sluice::test {

// A valid user.created envelope, told apart by `n` (its user_id and email).
inline std::string user_event(int n, const std::string& name = {}) {
    char id[40];
    std::snprintf(id, sizeof id, "0f8c3e2a-6b1d-4c9e-9a57-%012d", n);
    std::string data = std::string(R"({"user_id":")") + id + R"(","email":"u)" + std::to_string(n) +
                       R"(@example.com")";
    if (!name.empty()) data += R"(,"name":")" + name + "\"";
    return R"({"type":"user.created","version":1,"data":)" + data + "}}";
}

// Fast deadlines so redelivery is observable within a test.
inline const std::string fast_delivery = R"(types:
  user.created:
    delivery:
      ack_timeout: 1s
      retry_backoff: 100ms
      retry_backoff_max: 400ms
      max_deliveries: 3
)";

struct delivery_broker {
    broker_config cfg;
    std::unique_ptr<child_process> process;
    delivery_broker(const std::string& redis_url, const std::string& extra)
        : cfg(redis_url, extra), process(start_broker(cfg)) {
        REQUIRE(wait_for_status(cfg.port, "/readyz", 200, std::chrono::seconds(5)).status == 200);
    }
    // Publishes user_event(n); returns its stream entry id.
    std::string publish(int n) {
        http_connection c(cfg.port);
        auto r =
            c.request("POST", "/v1/events", user_event(n), "Content-Type: application/json\r\n");
        REQUIRE(r.status == 201);
        return json_string(r.body, "entry");
    }
    // `count` events in one batch request, each with a 200-character name.
    void publish_batch(int first, int count) {
        std::string name(200, 'n');
        std::string batch = "[";
        for (int n = first; n < first + count; ++n) {
            if (n > first) batch += ",";
            batch += R"({"specversion":"1.0","source":"/tests","id":"e-)" + std::to_string(n) +
                     R"(","type":"user.created","data":)";
            auto u = user_event(n, name);
            auto data = u.find(R"("data":)") + 7;
            batch += u.substr(data, u.size() - data - 1) + "}";
        }
        batch += "]";
        http_connection c(cfg.port, std::chrono::seconds(10));
        auto r = c.request("POST", "/v1/events", batch,
                           "Content-Type: application/cloudevents-batch+json\r\n");
        REQUIRE(r.status == 200);
    }
};

}  // namespace sluice::test
