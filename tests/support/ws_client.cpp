#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace sluice::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct ws_client::impl : std::enable_shared_from_this<impl> {
    net::io_context ctx;
    // Keeps the loop alive while reading is paused (no operation outstanding).
    net::executor_work_guard<net::io_context::executor_type> work{ctx.get_executor()};
    websocket::stream<net::ip::tcp::socket> ws{ctx};
    beast::flat_buffer buffer;
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::string> frames;
    bool closed = false;
    bool paused = false;
    bool reading = false;
    unsigned code = 0;
    std::string reason;
    std::thread thread;

    void read() {
        if (paused || closed) {
            reading = false;
            return;
        }
        reading = true;
        ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            std::lock_guard lock(self->m);
            if (ec) {
                self->closed = true;
                self->reading = false;
                self->code = self->ws.reason().code;
                self->reason = std::string(self->ws.reason().reason.c_str());
                self->cv.notify_all();
                return;
            }
            self->frames.push_back(beast::buffers_to_string(self->buffer.data()));
            self->buffer.consume(self->buffer.size());
            self->cv.notify_all();
            self->read();
        });
    }
};

ws_client::ws_client(std::uint16_t port, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers)
    : impl_(std::make_shared<impl>()) {
    auto& d = *impl_;
    net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    d.ws.next_layer().connect(ep);
    if (!headers.empty())
        d.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
            for (const auto& [name, value] : headers) req.set(name, value);
        }));
    d.ws.handshake("127.0.0.1:" + std::to_string(port), target);
    d.ws.text(true);
    d.read();
    d.thread = std::thread([p = impl_.get()] { p->ctx.run(); });
}

ws_client::~ws_client() {
    drop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void ws_client::send(const std::string& text) {
    std::promise<beast::error_code> done;
    net::post(impl_->ctx, [this, &text, &done] {
        impl_->ws.async_write(net::buffer(text),
                              [&done](beast::error_code ec, std::size_t) { done.set_value(ec); });
    });
    auto ec = done.get_future().get();
    if (ec) throw std::runtime_error("websocket write failed: " + ec.message());
}

std::optional<std::string> ws_client::receive(std::chrono::milliseconds wait) {
    std::unique_lock lock(impl_->m);
    impl_->cv.wait_for(lock, wait, [&] { return !impl_->frames.empty() || impl_->closed; });
    if (impl_->frames.empty()) return std::nullopt;
    auto f = std::move(impl_->frames.front());
    impl_->frames.pop_front();
    return f;
}

std::optional<std::string> ws_client::receive_op(const std::string& op,
                                                 std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto f = receive(left);
        if (!f) return std::nullopt;
        if (json_string(*f, "op") == op) return f;
    }
}

void ws_client::pause_reading() {
    net::post(impl_->ctx, [p = impl_.get()] { p->paused = true; });
}

void ws_client::resume_reading() {
    net::post(impl_->ctx, [p = impl_.get()] {
        p->paused = false;
        if (!p->reading) p->read();
    });
}

bool ws_client::wait_closed(std::chrono::milliseconds wait) {
    std::unique_lock lock(impl_->m);
    return impl_->cv.wait_for(lock, wait, [&] { return impl_->closed; });
}

unsigned ws_client::close_code() const {
    std::lock_guard lock(impl_->m);
    return impl_->code;
}

std::string ws_client::close_reason() const {
    std::lock_guard lock(impl_->m);
    return impl_->reason;
}

void ws_client::close() {
    std::promise<void> done;
    net::post(impl_->ctx, [this, &done] {
        impl_->ws.async_close(websocket::close_code::normal,
                              [&done](beast::error_code) { done.set_value(); });
    });
    done.get_future().wait_for(std::chrono::seconds(5));
    wait_closed(std::chrono::seconds(5));
}

void ws_client::drop() {
    net::post(impl_->ctx, [p = impl_.get()] {
        beast::error_code ignored;
        p->ws.next_layer().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
        p->ws.next_layer().close(ignored);
        p->work.reset();
    });
    // The read fails and the loop runs out of work.
}

std::string json_string(const std::string& json, const std::string& name) {
    auto key = "\"" + name + "\":\"";
    auto at = json.find(key);
    if (at == std::string::npos) return {};
    at += key.size();
    return json.substr(at, json.find('"', at) - at);
}

long long json_int(const std::string& json, const std::string& name) {
    auto key = "\"" + name + "\":";
    auto at = json.find(key);
    if (at == std::string::npos) return -1;
    at += key.size();
    if (at >= json.size() || json[at] < '0' || json[at] > '9') return -1;
    return std::stoll(json.substr(at));
}

}  // namespace sluice::test
