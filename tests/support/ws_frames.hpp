#pragma once

// WebSocket frames as a client sends them, built by hand, for tests of the server's
// framing (unit) and of its answers to odd frames (integration).

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::test {

// The first byte's parts: FIN and the opcodes.
namespace frame_bits {
constexpr std::uint8_t fin = 0x80;
constexpr std::uint8_t op_cont = 0x0, op_text = 0x1, op_binary = 0x2, op_close = 0x8, op_ping = 0x9,
                       op_pong = 0xA;
}  // namespace frame_bits

// A client frame: `first` is the whole first byte (FIN, RSV, opcode), the payload is
// masked with a fixed key unless `masked` is false. `length_bytes` forces the length
// encoding (0: the shortest; 2: 16-bit; 8: 64-bit).
inline std::string client_frame(std::uint8_t first, std::string_view payload, bool masked = true,
                                int length_bytes = 0) {
    std::string out;
    out += static_cast<char>(first);
    std::uint8_t mask_bit = masked ? 0x80 : 0x00;
    std::uint64_t n = payload.size();
    if (length_bytes == 0) length_bytes = n < 126 ? 0 : n <= 0xFFFF ? 2 : 8;
    if (length_bytes == 0) {
        out += static_cast<char>(mask_bit | n);
    } else if (length_bytes == 2) {
        out += static_cast<char>(mask_bit | 126);
        out += static_cast<char>((n >> 8) & 0xFF);
        out += static_cast<char>(n & 0xFF);
    } else {
        out += static_cast<char>(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
    }
    const unsigned char key[4] = {0x37, 0xFA, 0x21, 0x3D};
    if (masked)
        for (unsigned char k : key) out += static_cast<char>(k);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out += masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i];
    return out;
}

}  // namespace sluice::test
