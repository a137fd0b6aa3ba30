#include "publish/event_id.hpp"

#include "log/logger.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

namespace sluice::publish {

std::string new_event_id() {
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
    char out[37];
    std::snprintf(out, sizeof out,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return out;
}

std::string now_rfc3339() {
    std::string out;
    log::append_timestamp(out);
    return out;
}

}  // namespace sluice::publish
