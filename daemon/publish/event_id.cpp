#include "publish/event_id.hpp"

#include <chrono>
#include <cstdint>
#include <random>

namespace sluice::publish {

void format_event_id(char* out) {
    thread_local std::mt19937_64 rng = [] {
        std::random_device rd;
        std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64(seed);
    }();
    auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    std::uint64_t r1 = rng(), r2 = rng();
    unsigned char b[16];
    for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    b[6] = static_cast<unsigned char>(0x70 | ((r1 >> 8) & 0x0F));  // version 7
    b[7] = static_cast<unsigned char>(r1 & 0xFF);
    b[8] = static_cast<unsigned char>(0x80 | ((r2 >> 56) & 0x3F));  // variant 10
    for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(r2 >> (8 * (15 - i)));
    // 8-4-4-4-12 lowercase hex, by hand: snprintf cost a tenth of a batch publish.
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t at = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
        out[at++] = hex[b[i] >> 4];
        out[at++] = hex[b[i] & 0x0F];
    }
}

}  // namespace sluice::publish
