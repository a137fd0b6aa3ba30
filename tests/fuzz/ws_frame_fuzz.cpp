// The WebSocket frame reader (deliver/ws_codec.hpp) over bytes a client sends.
// The first input byte picks a chunk size; the rest is the wire. The reader must
// never crash, must hand out only what the protocol allows (messages within the
// cap, short control frames) and must read the same frames whether the bytes
// arrive at once or in chunks, as they do from a socket.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/ws_codec.hpp"
#include "fuzz_check.hpp"

using sluice::deliver::ws_frame_reader;
using sluice::deliver::ws_opcode;
using sluice::fuzz::require;

namespace {

// Small, so the "message too large" path (1009) is reachable within -max_len.
constexpr std::size_t max_message = 4096;

struct seen {
    ws_frame_reader::result r;
    ws_opcode op;
    std::string payload;
    std::uint16_t close_code;
    bool operator==(const seen&) const = default;
};

// Everything the reader hands out for `wire` delivered `chunk` bytes at a time,
// up to and including the first error.
std::vector<seen> read_in_chunks(std::string_view wire, std::size_t chunk) {
    ws_frame_reader reader(max_message);
    std::string buffer;
    std::vector<seen> out;
    for (std::size_t at = 0; at < wire.size(); at += chunk) {
        buffer.append(wire.substr(at, chunk));
        for (;;) {
            ws_frame_reader::event ev;
            auto r = reader.next(buffer, ev);
            if (r == ws_frame_reader::result::need_more) break;
            if (r == ws_frame_reader::result::error) {
                require(reader.close_code == 1002 || reader.close_code == 1007 ||
                            reader.close_code == 1009,
                        "an error carries a protocol (1002), UTF-8 (1007) or size (1009) code");
                require(!reader.error_text.empty(), "an error says why");
                out.push_back({r, ws_opcode::continuation, {}, reader.close_code});
                return out;
            }
            if (r == ws_frame_reader::result::control) {
                require(ev.payload.size() <= 125, "a control frame payload is at most 125 bytes");
                require(ev.op == ws_opcode::close || ev.op == ws_opcode::ping ||
                            ev.op == ws_opcode::pong,
                        "a control frame is close, ping or pong");
            } else {
                require(ev.payload.size() <= max_message, "a message is within the cap");
                require(ev.op == ws_opcode::text || ev.op == ws_opcode::binary,
                        "a message is text or binary");
            }
            out.push_back({r, ev.op, std::string(ev.payload), 0});
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t chunk = 1 + data[0] % 16;
    std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto whole = read_in_chunks(wire, wire.size() + 1);
    auto pieces = read_in_chunks(wire, chunk);
    require(whole == pieces, "the same frames whether bytes arrive at once or in chunks");
    return 0;
}
