#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::deliver {

// The server side of RFC 6455 framing, sans-I/O: the handshake key, frame headers for
// what the server sends (unmasked, final), and a reader for what clients send
// (masked, maybe fragmented, control frames in between). No extensions are
// negotiated, so the reserved bits must be zero.

enum class ws_opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string ws_accept_key(std::string_view client_key);

// True for a Sec-WebSocket-Key that is 16 bytes in base64 (24 characters).
bool ws_valid_client_key(std::string_view key);

// Appends the header of a final, unmasked frame carrying `payload_size` bytes.
void append_ws_frame_header(std::string& out, ws_opcode op, std::size_t payload_size);

// Appends a whole close frame: code and reason (cut to fit the 125-byte limit).
void append_ws_close_frame(std::string& out, std::uint16_t code, std::string_view reason);

// Reads client frames out of a byte buffer the caller fills. A message (text or
// binary, possibly fragmented) is handed out whole; control frames one by one.
class ws_frame_reader {
  public:
    explicit ws_frame_reader(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

    enum class result {
        need_more,  // read more bytes, append them to the buffer, call again
        message,    // `op` (text or binary) and `payload` hold a complete message
        control,    // `op` (ping, pong, close) and `payload` hold a control frame
        error,      // the stream is broken: close with `close_code`, see `error_text`
    };

    struct event {
        ws_opcode op = ws_opcode::text;
        std::string_view payload;  // valid until the next call
    };

    // `buffer` holds received bytes. Frames are read from an offset into it; the
    // bytes read are erased from its front once, when a call returns need_more (so
    // `payload` stays valid until the next call, and a buffer of many small frames is
    // not moved once per frame). Append to `buffer` only after need_more.
    result next(std::string& buffer, event& out);

    std::uint16_t close_code = 0;
    std::string error_text;

  private:
    result fail(std::uint16_t code, std::string text);

    std::size_t max_message_;
    std::size_t offset_ = 0;  // bytes at the buffer's front already read
    // Erases what was read and answers need_more.
    result need_more(std::string& buffer);
    std::string message_;  // a fragmented message so far
    bool in_message_ = false;
    ws_opcode message_op_ = ws_opcode::text;
};

}  // namespace sluice::deliver
