#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <memory_resource>
#include <optional>

#include "http/message.hpp"
#include "http/problem.hpp"

namespace sluice::http {

// The size limits one request is read under (a slice of http::limits).
struct request_limits {
    std::size_t max_header_bytes = 16 * 1024;  // request line and header fields
    std::size_t max_body_bytes = 1024 * 1024;
};

// Reads one HTTP/1.1 request from bytes the caller supplies: no sockets, no timers.
// The session reads into a buffer and calls feed(); so do the fuzz target and the
// unit tests. Every way the bytes can be wrong ends in failed() with the problem to
// answer (400, 413 or 431), never an exception: Beast's parser throws when a header
// or trailer field is longer than its 16-bit offsets hold, so the reader keeps every
// unparsed run of header or trailer bytes under max_header_bytes, which the config
// keeps under that size, and turns a throw it could not foresee into a 431 as well.
// Not thread-safe; one reader per request.
class request_reader {
  public:
    enum class status { need_more, done, failed };

    // Beast's field offsets are 16 bits: a field line must stay under 64 KiB.
    static constexpr std::size_t max_header_limit = 64 * 1024;

    // The request's header fields are allocated from `fields` (an arena the caller
    // resets once the request is gone).
    explicit request_reader(const request_limits& limits,
                            std::pmr::memory_resource* fields = std::pmr::get_default_resource());

    // Parses what `buffer` holds and consumes what it used: a complete request, or as
    // much as is there. Bytes after a complete request stay in `buffer` (pipelining).
    // need_more: read more bytes into `buffer` and call again.
    status feed(boost::beast::flat_buffer& buffer);

    bool is_header_done() const { return parser_.is_header_done(); }

    // Valid once feed() returned failed.
    const problem& failure() const { return *failure_; }

    // The request; its header once is_header_done(), whole once done.
    const request& get() const { return parser_.get(); }
    request release() { return parser_.release(); }

  private:
    status fail(problem p);

    request_limits limits_;
    boost::beast::http::request_parser<boost::beast::http::string_body,
                                       std::pmr::polymorphic_allocator<char>>
        parser_;
    std::optional<problem> failure_;
};

}  // namespace sluice::http
