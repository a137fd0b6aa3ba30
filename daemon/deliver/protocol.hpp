#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/position.hpp"

namespace sluice::deliver {

// The WebSocket protocol (docs/protocol.md): JSON text frames. Sans-I/O: parsing
// client frames and writing server frames, no sockets.

inline constexpr unsigned default_window = 100;
inline constexpr unsigned max_window = 10'000;
inline constexpr std::size_t max_entries_per_frame = 1000;
inline constexpr std::size_t max_id_length = 128;
inline constexpr std::size_t max_reason_length = 1024;

// One client frame, read. `op` says which members are meaningful.
struct client_frame {
    enum class kind { subscribe, ack, nack, extend, unsubscribe, auth };
    kind op = kind::subscribe;

    // subscribe
    std::string id;                 // the subscription's name on this socket
    std::string type;               // event type
    std::string group;              // empty: fan-out
    start_position from;            // default "new"
    std::string from_text = "new";  // as the client wrote it
    unsigned window = default_window;
    std::optional<std::uint64_t> ack_timeout_ms;

    // ack, nack, extend, unsubscribe
    std::string sub;
    std::vector<std::string> entries;
    std::optional<std::uint64_t> delay_ms;  // nack
    std::string reason;                     // nack

    // auth: a credential (API key or token), for a socket opened without one or to
    // refresh one about to expire
    std::string token;
};

inline constexpr std::size_t max_token_length = 8192;

// Why a frame was refused: `code` is stable, `message` says what to fix; `id` is the
// frame's `id` or `sub` when it had one, so the client can tell which request failed.
struct frame_error {
    std::string id;
    std::string code;
    std::string message;
};

struct parse_result {
    std::optional<client_frame> frame;
    frame_error error;  // when !frame
};

// Reads one text frame. Uses a parser per thread, reused.
parse_result parse_client_frame(std::string_view text);

// True for a valid consumer group name: 1..128 of [A-Za-z0-9._:-], so it is safe in
// keys, logs and metric labels and needs no escaping in a URL path. The WebSocket
// protocol and the HTTP group endpoints both use it.
bool valid_group_name(std::string_view name);

// Server frames.
std::string error_frame(const frame_error& e);
std::string unsubscribed_frame(std::string_view sub, std::string_view reason);
// The answer to a good `auth` frame: who the socket acts as from now on, and when that
// ends (unix seconds; 0: it does not).
std::string authenticated_frame(std::string_view principal, std::int64_t expires_at);

struct subscribed_info {
    std::string_view id, type, group, from;
    unsigned window = 0;
    std::uint64_t ack_timeout_ms = 0;
    bool created = false;  // the group was created by this subscribe
};
std::string subscribed_frame(const subscribed_info& s);

// `{"op":"event","sub":"s1","entry":"...","delivery":1,"event":` — the frame's head;
// the event JSON and a closing '}' follow (the event bytes are shared by every
// subscriber that receives them).
void append_event_frame_head(std::string& out, std::string_view sub, std::string_view entry,
                             std::uint64_t delivery);

}  // namespace sluice::deliver
