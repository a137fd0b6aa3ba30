#include "http/request_reader.hpp"

#include <boost/beast/http/error.hpp>
#include <stdexcept>
#include <string>
#include <tuple>

namespace sluice::http {
namespace {

namespace beast = boost::beast;

problem headers_too_large(std::string detail) {
    return {431, "headers_too_large", "Request header fields too large", std::move(detail), {}};
}

}  // namespace

request_reader::request_reader(const request_limits& limits, std::pmr::memory_resource* fields)
    : limits_(limits)
    , parser_(std::piecewise_construct, std::make_tuple(),
              std::make_tuple(std::pmr::polymorphic_allocator<char>(fields))) {
    limits_.max_header_bytes = std::min(limits_.max_header_bytes, max_header_limit);
    parser_.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_.body_limit(limits_.max_body_bytes);
    // Body bytes are taken as they arrive, so only header and chunk framing or
    // trailer bytes ever wait unparsed in the caller's buffer.
    parser_.eager(true);
}

request_reader::status request_reader::fail(problem p) {
    failure_ = std::move(p);
    return status::failed;
}

request_reader::status request_reader::feed(beast::flat_buffer& buffer) {
    if (failure_) return status::failed;
    beast::error_code ec;
    const auto window_max = limits_.max_header_bytes;
    try {
        // The parser is given at most max_header_bytes at a time. Body bytes it takes
        // piece by piece; a header, a chunk header or the trailer section must fit one
        // window whole, so none of them can grow past the limit.
        while (!parser_.is_done() && buffer.size() > 0) {
            // Beast asserts that a final chunk it has begun is seen again with at
            // least 5 bytes; no chunked body can end in fewer ("0\r\n\r\n"), so
            // fewer wait for the rest.
            if (parser_.is_header_done() && parser_.chunked() && buffer.size() < 5) break;
            auto window = std::min(buffer.size(), window_max);
            auto used = parser_.put(boost::asio::const_buffer(buffer.data().data(), window), ec);
            buffer.consume(used);
            if (ec == beast::http::error::need_more) {
                ec = {};
                // Go on only with bytes the parser has not seen: it must not be
                // handed what it already said is too little (Beast asserts on that).
                if (used > 0 && buffer.size() > window - used) continue;
                if (used > 0) break;
                if (window == window_max && parser_.is_header_done())
                    return fail(headers_too_large("a chunk header or the trailer section exceeds " +
                                                  std::to_string(window_max) + " bytes"));
                break;
            }
            if (ec || used == 0) break;
        }
    } catch (const std::length_error&) {
        return fail(headers_too_large("a header or trailer field is longer than " +
                                      std::to_string(max_header_limit - 3) + " bytes"));
    }
    if (parser_.is_done()) return status::done;
    if (!ec) return status::need_more;
    if (ec == beast::http::error::header_limit)
        return fail(headers_too_large("the request header exceeds " +
                                      std::to_string(limits_.max_header_bytes) + " bytes"));
    if (ec == beast::http::error::body_limit)
        return fail(
            {413,
             "body_too_large",
             "Request body too large",
             "the request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes",
             {}});
    // The bytes are not HTTP; the message names what the parser choked on.
    return fail({400, "bad_request", "Malformed HTTP request", ec.message(), {}});
}

}  // namespace sluice::http
