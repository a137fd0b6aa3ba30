// HTTP/1.1 requests as the session reads them (http/request_reader.hpp): headers,
// Content-Length and chunked bodies, trailers, pipelined requests. The first input
// byte picks how the bytes arrive (chunk size) and the limits: the session's defaults
// (header 16 KiB, body 1 MiB), small ones that the fuzzer can reach, or a header limit
// anywhere in the range the config accepts (http.max_header_bytes, 1 KiB to 64 KiB,
// where Beast's 16-bit field offsets end) taken from the next two bytes; the rest is
// what a client sent on one connection.
//
// Every request is read or refused with 400, 413 or 431 and a valid problem+json;
// nothing throws, a body stays within its limit, and the same bytes give the same
// requests and the same answer however the socket splits them (see consistent()).

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/problem.hpp"
#include "http/request_reader.hpp"

using namespace sluice::http;
using sluice::fuzz::is_json;
using sluice::fuzz::require;

namespace {

// What a connection's bytes came to: each request read, then how reading ended.
struct outcome {
    std::vector<std::string> requests;  // method, target and body of each
    unsigned failed_status = 0;         // 0: no failure, the bytes ran out
    bool operator==(const outcome&) const = default;
};

constexpr std::size_t max_requests = 8;  // pipelined on one connection

// The header limits the config accepts (config/loader.cpp); the upper one is the
// reader's own cap, request_reader::max_header_limit.
constexpr std::size_t min_header_bytes = 1024;
constexpr std::size_t max_header_bytes = request_reader::max_header_limit;

// Whole reads can see a broken request line before the header ends, while small
// reads are still waiting for it (or have hit the header limit first: 431 for one,
// 400 for the other). So a connection may stop short of the other's failure, or
// fail with another code, but never reads different requests or more of them.
// Beast checks the header limit only while it waits for the header's end, so a
// header that arrives whole may pass a few bytes over it (by 22 at most with a
// 1 KiB limit, measured) where the same header read in pieces is a 431: a
// connection that saw a 431 is not compared.
bool consistent(const outcome& a, const outcome& b) {
    if (a.failed_status == 431 || b.failed_status == 431) return true;
    if (a.failed_status != 0 && b.failed_status != 0) return a.requests == b.requests;
    if (a.failed_status == 0 && b.failed_status == 0) return a.requests == b.requests;
    const outcome& waiting = a.failed_status == 0 ? a : b;
    const outcome& failed = a.failed_status == 0 ? b : a;
    return waiting.requests.size() <= failed.requests.size() &&
           std::equal(waiting.requests.begin(), waiting.requests.end(), failed.requests.begin());
}

outcome read_connection(std::string_view wire, std::size_t chunk, const request_limits& limits) {
    outcome out;
    boost::beast::flat_buffer buffer;
    std::size_t at = 0;
    while (out.requests.size() < max_requests) {
        request_reader reader(limits);
        auto st = reader.feed(buffer);  // a pipelined request may already be buffered
        while (st == request_reader::status::need_more && at < wire.size()) {
            auto piece = wire.substr(at, chunk);
            at += piece.size();
            auto b = buffer.prepare(piece.size());
            std::memcpy(b.data(), piece.data(), piece.size());
            buffer.commit(piece.size());
            st = reader.feed(buffer);
        }
        if (st == request_reader::status::need_more) return out;  // the client stopped
        if (st == request_reader::status::failed) {
            const problem& p = reader.failure();
            require(p.status == 400 || p.status == 413 || p.status == 431,
                    "a refused request is 400, 413 or 431");
            require(is_json(to_json(p)), "the problem is JSON");
            out.failed_status = p.status;
            return out;
        }
        const request& req = reader.get();
        require(req.body().size() <= limits.max_body_bytes, "a body is within its limit");
        out.requests.push_back(std::string(req.method_string()) + ' ' + std::string(req.target()) +
                               '\n' + req.body());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t chunk = 1 + (data[0] & 0x3F) * 61;  // 1 to 3844 bytes per read
    request_limits limits;                          // the session's defaults
    std::size_t skip = 1;
    if (data[0] & 0x40) {
        limits = {1024, 4096};
    } else if (data[0] & 0x80) {
        if (size < 3) return 0;
        limits.max_header_bytes = min_header_bytes + (std::size_t(data[1]) << 8 | data[2]) %
                                                         (max_header_bytes - min_header_bytes + 1);
        skip = 3;
    }
    std::string_view wire(reinterpret_cast<const char*>(data) + skip, size - skip);
    auto whole = read_connection(wire, wire.size() + 1, limits);
    auto pieces = read_connection(wire, chunk, limits);
    require(consistent(whole, pieces),
            "the same requests whether bytes arrive at once or in pieces");
    return 0;
}
