#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

// A real WebSocket client for tests (Beast), reading on a thread of its own so a test
// can wait for frames with a deadline. Throws when the handshake fails.
class ws_client {
  public:
    // `headers`: extra fields of the handshake request ({"Origin", "https://x"}).
    explicit ws_client(std::uint16_t port, const std::string& target = "/v1/ws",
                       std::vector<std::pair<std::string, std::string>> headers = {});
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    void send(const std::string& text);

    // The next text frame, or nothing when none came within `wait` (or the socket
    // closed).
    std::optional<std::string> receive(std::chrono::milliseconds wait = std::chrono::seconds(5));

    // Frames whose "op" is `op`, skipping others; nothing on timeout.
    std::optional<std::string> receive_op(const std::string& op,
                                          std::chrono::milliseconds wait = std::chrono::seconds(5));

    // Stops reading from the socket (frames pile up in the kernel), to play a slow client.
    void pause_reading();
    void resume_reading();

    // After the server closed: its close code (0 while open) and reason.
    bool wait_closed(std::chrono::milliseconds wait);
    unsigned close_code() const;
    std::string close_reason() const;

    // Closes politely (1000), or drops the TCP connection without a close frame.
    void close();
    void drop();

    struct impl;

  private:
    std::shared_ptr<impl> impl_;
};

// The string value of `"name":"..."` in a flat JSON text (tests only), or "".
std::string json_string(const std::string& json, const std::string& name);
// The integer value of `"name":123`, or -1.
long long json_int(const std::string& json, const std::string& name);

}  // namespace sluice::test
