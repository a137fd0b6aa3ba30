#include "store/keys.hpp"

#include <openssl/sha.h>

namespace sluice::store {

std::string stream_key(std::string_view type) {
    std::string key;
    assign_stream_key(key, type);
    return key;
}

void assign_stream_key(std::string& out, std::string_view type) {
    out.assign("sluice:{").append(type).append("}:events");
}

std::string dead_letter_key(std::string_view type) {
    return "sluice:{" + std::string(type) + "}:dlq";
}

std::string nack_reasons_key(std::string_view type) {
    return "sluice:{" + std::string(type) + "}:nack";
}

std::string ack_timeouts_key(std::string_view type) {
    return "sluice:{" + std::string(type) + "}:acktimeout";
}

std::string idempotency_key(std::string_view type, std::string_view source, std::string_view id) {
    std::string material;
    // Length-prefixed, so no (source, id) pair can collide with another.
    material.reserve(source.size() + id.size() + 24);
    material.append(std::to_string(source.size())).append(1, ':').append(source).append(id);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string key = "sluice:{" + std::string(type) + "}:idem:";
    for (unsigned char b : digest) {
        key += hex[b >> 4];
        key += hex[b & 0xf];
    }
    return key;
}

}  // namespace sluice::store
