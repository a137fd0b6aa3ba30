#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace sluice::test {

struct http_reply {
    unsigned status = 0;
    unsigned version = 11;  // of the status line: 10 or 11
    std::string body;
    std::string content_type;
    std::string header(const std::string& name) const;
    std::string raw_headers;  // "Name: value\r\n"...
    bool keep_alive = false;
};

// A blocking HTTP/1.1 client over one TCP connection, for tests: writes raw bytes,
// reads whole responses. Every read gives up after `timeout` so a test never hangs.
class http_connection {
  public:
    explicit http_connection(std::uint16_t port,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));
    ~http_connection();

    void send(const std::string& raw);
    // Reads one response; throws on timeout or a closed connection. With
    // `to_head`, the response answers a HEAD request: headers only.
    http_reply read_reply(bool to_head = false);
    // True when the server closed the connection (EOF) within `wait`.
    bool closed_by_peer(std::chrono::milliseconds wait);
    // One request with these pieces, then its response.
    http_reply request(const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::string& extra_headers = {});

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

// GET on a new connection.
http_reply http_get(std::uint16_t port, const std::string& target);

}  // namespace sluice::test
