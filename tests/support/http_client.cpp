#include "support/http_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sstream>
#include <stdexcept>

namespace sluice::test {

namespace net = boost::asio;
namespace http = boost::beast::http;

std::string http_reply::header(const std::string& name) const {
    std::istringstream in(raw_headers);
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, colon);
        if (strcasecmp(key.c_str(), name.c_str()) != 0) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
        return value;
    }
    return {};
}

// A blocking stream over the raw descriptor. Asio's own blocking reads wait in
// poll() without a limit and ignore SO_RCVTIMEO; ::recv honours it, so a test that
// expects a reply and gets none fails instead of hanging.
struct posix_stream {
    int fd;
    template <typename Buffers>
    std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
        auto b = *net::buffer_sequence_begin(buffers);
        ssize_t n = ::recv(fd, b.data(), b.size(), 0);
        if (n > 0) {
            ec = {};
            return static_cast<std::size_t>(n);
        }
        if (n == 0)
            ec = net::error::eof;
        else
            ec = boost::system::error_code(errno, boost::system::system_category());
        return 0;
    }
    template <typename Buffers>
    std::size_t read_some(const Buffers& buffers) {
        boost::system::error_code ec;
        auto n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }
};

struct http_connection::impl {
    net::io_context ctx;
    net::ip::tcp::socket socket{ctx};
    boost::beast::flat_buffer buffer;
    posix_stream stream() { return posix_stream{socket.native_handle()}; }
};

http_connection::http_connection(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
    impl_->socket.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

http_connection::~http_connection() = default;

void http_connection::send(const std::string& raw) {
    net::write(impl_->socket, net::buffer(raw));
}

http_reply http_connection::read_reply(bool to_head) {
    http::response_parser<http::string_body> parser;
    parser.skip(to_head);
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code ec;
    auto stream = impl_->stream();
    http::read(stream, impl_->buffer, parser, ec);
    if (ec) throw std::runtime_error("reading the response failed: " + ec.message());
    const auto& res = parser.get();
    http_reply out;
    out.status = res.result_int();
    out.version = res.version();
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    for (const auto& f : res) {
        out.raw_headers += std::string(f.name_string()) + ": " + std::string(f.value()) + "\r\n";
    }
    out.content_type = out.header("Content-Type");
    return out;
}

bool http_connection::closed_by_peer(std::chrono::milliseconds wait) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(wait.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((wait.count() % 1000) * 1000);
    ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    boost::system::error_code ec;
    impl_->stream().read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
}

http_reply http_connection::request(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& extra_headers) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
    if (!body.empty() || method == "POST" || method == "PUT")
        raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n" + body;
    send(raw);
    return read_reply();
}

http_reply http_get(std::uint16_t port, const std::string& target) {
    http_connection c(port);
    return c.request("GET", target);
}

}  // namespace sluice::test
