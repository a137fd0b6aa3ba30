// Delivery benchmark client: real WebSocket subscribers and HTTP publishers against a
// running broker. Prints one result line per mode; bench/deliver/run.sh drives it.
//
//   latency  --port P --events N --rate R [--connections K] [--ack each] [--trace F]
//       publishes N events at R per second over K keep-alive connections (one thread)
//       while one group subscriber (its own thread) acks what it has read in one frame
//       per burst, or every event in its own frame with --ack each; prints the rate
//       the publishers kept and publish->frame latency p50/p99/max. --trace writes one
//       line per event (seq, steady-clock send time, latency, POST answer time).
//   consume  --port P --events N [--consumers C] [--window W]
//       publishes N events first (batches of 100), then C subscribers of one new
//       group read them from the start and ack in batches; prints events/s.
//   reference --redis-port R --events N [--type T]
//       the same-run reference: one client reading the type's stream straight from
//       Redis with XREADGROUP COUNT 100, its XACK pipelined with the next read.
//   idle     --port P --connections N --pid BROKER_PID
//       opens N WebSockets with one subscription each; prints the broker's resident
//       memory per connection.
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log/logger.hpp"
#include "redis/client.hpp"
#include "store/keys.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

struct options {
    std::string mode;
    unsigned short port = 8080;
    std::size_t events = 10'000;
    double rate = 1000;
    unsigned connections = 8;
    unsigned consumers = 4;
    unsigned window = 1000;
    unsigned ack_batch = 0;  // 0: a quarter of the window, at most 1000 (the protocol's cap)
    bool ack_each = false;   // latency: one ack frame per event instead of per read burst
    int pid = 0;
    unsigned short redis_port = 6379;
    std::string type = "user.created";
    std::string trace;  // latency: a file for one line per event (sent offset, latency)
};

options parse(int argc, char** argv) {
    options o;
    if (argc < 2)
        throw std::runtime_error("usage: deliver_bench latency|consume|idle --port P ...");
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--port")
            o.port = static_cast<unsigned short>(std::stoi(v));
        else if (k == "--events")
            o.events = std::stoul(v);
        else if (k == "--rate")
            o.rate = std::stod(v);
        else if (k == "--connections")
            o.connections = static_cast<unsigned>(std::stoul(v));
        else if (k == "--consumers")
            o.consumers = static_cast<unsigned>(std::stoul(v));
        else if (k == "--window")
            o.window = static_cast<unsigned>(std::stoul(v));
        else if (k == "--pid")
            o.pid = std::stoi(v);
        else if (k == "--redis-port")
            o.redis_port = static_cast<unsigned short>(std::stoi(v));
        else if (k == "--ack-batch")
            o.ack_batch = static_cast<unsigned>(std::stoul(v));
        else if (k == "--type")
            o.type = v;
        else if (k == "--trace")
            o.trace = v;
        else if (k == "--ack")
            o.ack_each = v == "each";
        else
            throw std::runtime_error("unknown option " + k);
    }
    return o;
}

std::string tag() {
    std::random_device rd;
    return std::to_string(rd() % 1'000'000);
}

// The reference event's data with a sequence number in userId, so a delivery can be
// matched to its publish.
std::string data_for(std::size_t seq) {
    char id[32];
    std::snprintf(id, sizeof id, "u-%010zu", seq);
    return std::string(R"({"userId":")") + id +
           R"(","email":"alice.example@example.com","name":"Alice Example","age":34,"plan":"pro","tags":["beta","eu-west"]})";
}

std::size_t seq_of(std::string_view frame) {
    auto at = frame.find("\"userId\":\"u-");
    if (at == std::string_view::npos) return SIZE_MAX;
    return std::stoull(std::string(frame.substr(at + 12, 10)));
}

std::string entry_of(std::string_view frame) {
    auto at = frame.find("\"entry\":\"");
    if (at == std::string_view::npos) return {};
    at += 9;
    return std::string(frame.substr(at, frame.find('"', at) - at));
}

long rss_kib(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

using ws_stream = websocket::stream<tcp::socket>;

net::awaitable<std::unique_ptr<ws_stream>> open_ws(unsigned short port) {
    auto ex = co_await net::this_coro::executor;
    auto ws = std::make_unique<ws_stream>(ex);
    co_await ws->next_layer().async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                            net::use_awaitable);
    ws->next_layer().set_option(tcp::no_delay(true));
    co_await ws->async_handshake("127.0.0.1", "/v1/ws", net::use_awaitable);
    ws->text(true);
    co_return ws;
}

net::awaitable<void> subscribe(ws_stream& ws, const std::string& frame) {
    co_await ws.async_write(net::buffer(frame), net::use_awaitable);
    beast::flat_buffer b;
    co_await ws.async_read(b, net::use_awaitable);
    auto text = beast::buffers_to_string(b.data());
    if (text.find("\"subscribed\"") == std::string::npos)
        throw std::runtime_error("subscribe refused: " + text);
}

// Keep-alive HTTP publisher connection.
struct publisher {
    tcp::socket socket;
    beast::flat_buffer buffer;
    std::string target = "/v1/events";
    explicit publisher(net::any_io_executor ex) : socket(ex) {}

    net::awaitable<void> connect(unsigned short port) {
        co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                      net::use_awaitable);
        socket.set_option(tcp::no_delay(true));
    }
    net::awaitable<unsigned> post(std::string body, std::string content_type) {
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, content_type);
        req.body() = std::move(body);
        req.prepare_payload();
        co_await http::async_write(socket, req, net::use_awaitable);
        http::response<http::string_body> res;
        co_await http::async_read(socket, buffer, res, net::use_awaitable);
        co_return res.result_int();
    }
};

std::string envelope(const std::string& type, std::size_t seq) {
    return R"({"type":")" + type + R"(","version":1,"data":)" + data_for(seq) + "}";
}

// ---- latency ----
// The publishers run on one thread and the subscriber on another, as they would in
// separate processes: on one shared thread the subscriber's read -> ack -> read chain
// waits a whole turn of 16 publishers' handlers per event, so the client itself fell
// behind at moderate rates and the latency measured was its own queue.
int run_latency(const options& o) {
    net::io_context sub_ctx(1), pub_ctx(1);
    std::vector<clock_type::time_point> sent(o.events), got(o.events), answered(o.events);
    std::size_t received = 0, ack_frames = 0;
    std::atomic<std::size_t> failed{0};
    std::atomic<bool> done{false}, subscribed{false};
    auto group = "lat-" + tag();
    net::co_spawn(
        sub_ctx,
        [&]() -> net::awaitable<void> {
            auto ws = co_await open_ws(o.port);
            co_await subscribe(*ws, R"({"op":"subscribe","id":"l","type":")" + o.type +
                                        R"(","group":")" + group + R"(","window":1000})");
            subscribed = true;
            beast::flat_buffer b;
            std::string acks;
            std::size_t batched = 0;
            while (received < o.events) {
                b.clear();
                co_await ws->async_read(b, net::use_awaitable);
                auto now = clock_type::now();
                auto text = beast::buffers_to_string(b.data());
                auto seq = seq_of(text);
                if (seq >= o.events) continue;
                got[seq] = now;
                ++received;
                acks += acks.empty() ? R"({"op":"ack","sub":"l","entries":[")" : R"(",")";
                acks += entry_of(text);
                ++batched;
                // Per event (--ack each), or everything read once the socket has no more
                // (the protocol takes up to 1000 ids in one ack).
                if (o.ack_each || batched >= 1000 || received == o.events ||
                    ws->next_layer().available() == 0) {
                    acks += "\"]}";
                    co_await ws->async_write(net::buffer(acks), net::use_awaitable);
                    ++ack_frames;
                    acks.clear();
                    batched = 0;
                }
            }
            done = true;
            co_await ws->async_close(websocket::close_code::normal, use_tuple);
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    // Publishers start once the subscription is in place.
    std::thread subscriber([&] { sub_ctx.run(); });
    for (int i = 0; i < 500 && !subscribed; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto start = clock_type::now() + std::chrono::milliseconds(50);
    auto interval = std::chrono::duration<double>(1.0 / o.rate);
    for (unsigned c = 0; c < o.connections; ++c) {
        net::co_spawn(
            pub_ctx,
            [&, c]() -> net::awaitable<void> {
                publisher p(co_await net::this_coro::executor);
                co_await p.connect(o.port);
                net::steady_timer t(co_await net::this_coro::executor);
                for (std::size_t seq = c; seq < o.events; seq += o.connections) {
                    t.expires_at(start + std::chrono::duration_cast<clock_type::duration>(
                                             interval * static_cast<double>(seq)));
                    co_await t.async_wait(use_tuple);
                    sent[seq] = clock_type::now();
                    if (co_await p.post(envelope(o.type, seq), "application/json") >= 300) ++failed;
                    answered[seq] = clock_type::now();
                }
            },
            net::detached);
    }
    std::thread guard([&] {
        auto limit = clock_type::now() + std::chrono::seconds(60) +
                     std::chrono::seconds(static_cast<long>(o.events / o.rate));
        while (!done && clock_type::now() < limit)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!done) {
            sub_ctx.stop();
            pub_ctx.stop();
        }
    });
    pub_ctx.run();
    subscriber.join();
    guard.join();
    if (!o.trace.empty()) {
        // One line per event: seq, when it was sent (ms on the steady clock, which the
        // broker's own timestamps share on this machine), its latency (ms; -1: never
        // came), and how long its POST took to be answered (ms).
        std::ofstream t(o.trace);
        char line[96];
        for (std::size_t i = 0; i < o.events; ++i) {
            if (sent[i] == clock_type::time_point{}) continue;
            double at =
                std::chrono::duration<double, std::milli>(sent[i].time_since_epoch()).count();
            double ms = got[i] == clock_type::time_point{}
                            ? -1.0
                            : std::chrono::duration<double, std::milli>(got[i] - sent[i]).count();
            double post = std::chrono::duration<double, std::milli>(answered[i] - sent[i]).count();
            std::snprintf(line, sizeof line, "%zu %.3f %.3f %.3f\n", i, at, ms, post);
            t << line;
        }
    }
    std::vector<double> ms;
    clock_type::time_point first = clock_type::time_point::max(), last{};
    for (std::size_t i = 0; i < o.events; ++i) {
        if (sent[i] == clock_type::time_point{}) continue;
        first = std::min(first, sent[i]);
        last = std::max(last, sent[i]);
        if (got[i] != clock_type::time_point{})
            ms.push_back(std::chrono::duration<double, std::milli>(got[i] - sent[i]).count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
        return ms.empty() ? 0.0
                          : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
    };
    // The rate the publishers kept: behind their schedule they send as fast as answers
    // come, and the figure says so.
    double span = std::chrono::duration<double>(last - first).count();
    std::printf(
        "latency events=%zu rate=%.0f sent_rate=%.0f received=%zu failed=%zu p50_ms=%.3f "
        "p99_ms=%.3f max_ms=%.3f acks_per_frame=%.1f\n",
        o.events, o.rate, span > 0 ? static_cast<double>(o.events - 1) / span : 0.0, received,
        failed.load(), pct(0.50), pct(0.99), ms.empty() ? 0.0 : ms.back(),
        ack_frames ? static_cast<double>(received) / static_cast<double>(ack_frames) : 0.0);
    return received == o.events && failed == 0 ? 0 : 1;
}

// ---- consume ----
int run_consume(const options& o) {
    net::io_context ctx(1);
    auto group = "bench-" + tag();
    std::size_t received = 0;
    clock_type::time_point started, finished;
    // Publish first, in batches of 100.
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            publisher p(co_await net::this_coro::executor);
            co_await p.connect(o.port);
            for (std::size_t seq = 0; seq < o.events;) {
                std::string batch = "[";
                for (std::size_t i = 0; i < 100 && seq < o.events; ++i, ++seq) {
                    if (i) batch += ',';
                    batch += R"({"specversion":"1.0","type":")" + o.type +
                             R"(","source":"/bench","version":1,"data":)" + data_for(seq) + "}";
                }
                batch += "]";
                if (co_await p.post(std::move(batch), "application/cloudevents-batch+json") >= 300)
                    throw std::runtime_error("batch publish failed");
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ctx.run();
    ctx.restart();

    for (unsigned c = 0; c < o.consumers; ++c) {
        net::co_spawn(
            ctx,
            [&]() -> net::awaitable<void> {
                auto ws = co_await open_ws(o.port);
                if (started == clock_type::time_point{}) started = clock_type::now();
                co_await subscribe(*ws, R"({"op":"subscribe","id":"c","type":")" + o.type +
                                            R"(","group":")" + group +
                                            R"(","from":"start","window":)" +
                                            std::to_string(o.window) + "}");
                beast::flat_buffer b;
                std::string acks;
                std::size_t batched = 0;
                const std::size_t ack_batch =
                    o.ack_batch ? o.ack_batch : std::clamp(o.window / 4, 1u, 1000u);
                while (received < o.events) {
                    b.clear();
                    auto [ec, n] = co_await ws->async_read(b, use_tuple);
                    if (ec) break;
                    auto text = beast::buffers_to_string(b.data());
                    auto entry = entry_of(text);
                    if (entry.empty()) continue;
                    ++received;
                    acks += acks.empty() ? R"({"op":"ack","sub":"c","entries":[")" : R"(",")";
                    acks += entry;
                    ++batched;
                    // Ack in batches, and whatever is read when the socket has no more.
                    if (batched >= ack_batch || received == o.events ||
                        ws->next_layer().available() == 0) {
                        acks += "\"]}";
                        co_await ws->async_write(net::buffer(acks), net::use_awaitable);
                        acks.clear();
                        batched = 0;
                    }
                }
                finished = clock_type::now();
                // Lets the other consumers see the count reached.
                beast::get_lowest_layer(*ws).close();
            },
            net::detached);
    }
    std::thread guard([&] {
        std::this_thread::sleep_for(std::chrono::seconds(120));
        ctx.stop();
    });
    ctx.run();
    guard.detach();
    double seconds = std::chrono::duration<double>(finished - started).count();
    std::printf(
        "consume events=%zu consumers=%u window=%u received=%zu seconds=%.3f events_per_s=%.0f "
        "group=%s\n",
        o.events, o.consumers, o.window, received, seconds, received / seconds, group.c_str());
    return received >= o.events ? 0 : 1;
}

// ---- reference: a consumer straight on Redis ----
int run_reference(const options& o) {
    sluice::log::configure(sluice::log::level::error, sluice::log::format::text);
    net::io_context ctx(1);
    sluice::redis::client_options ro;
    ro.connection.endpoint.port = o.redis_port;
    sluice::redis::client redis(ctx.get_executor(), ro);
    redis.start();
    auto key = sluice::store::stream_key(o.type);
    auto group = "ref-" + tag();
    std::size_t received = 0;
    clock_type::time_point started, finished;
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            net::steady_timer wait(ctx);
            for (int i = 0; i < 100 && !redis.is_up(); ++i) {
                wait.expires_after(std::chrono::milliseconds(10));
                co_await wait.async_wait(use_tuple);
            }
            co_await redis.async_exec(
                sluice::redis::command("XGROUP", "CREATE", key, group, "0", "MKSTREAM"),
                net::use_awaitable);
            started = clock_type::now();
            std::vector<std::string> ids;
            while (received < o.events) {
                // XACK of the last batch and the next read in one round trip.
                sluice::redis::request req;
                if (!ids.empty()) {
                    std::vector<std::string_view> argv{"XACK", key, group};
                    for (const auto& id : ids) argv.push_back(id);
                    req.push(argv);
                }
                req.push_command("XREADGROUP", "GROUP", group, "c", "COUNT", "100", "STREAMS", key,
                                 ">");
                bool acked = !ids.empty();
                auto r = co_await redis.async_exec(std::move(req), net::use_awaitable);
                auto& read = acked ? r.elements.at(1) : r;
                ids.clear();
                if (read.type != sluice::redis::reply::kind::array || read.elements.empty()) break;
                for (auto& e : read.elements[0].elements.at(1).elements) {
                    ids.push_back(e.elements.at(0).str);
                    ++received;
                }
            }
            if (!ids.empty()) {
                std::vector<std::string_view> argv{"XACK", key, group};
                for (const auto& id : ids) argv.push_back(id);
                co_await redis.async_exec(sluice::redis::request(argv), net::use_awaitable);
            }
            finished = clock_type::now();
            redis.stop();
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ctx.run();
    double seconds = std::chrono::duration<double>(finished - started).count();
    std::printf("reference events=%zu seconds=%.3f events_per_s=%.0f\n", received, seconds,
                received / seconds);
    return received >= o.events ? 0 : 1;
}

// ---- idle ----
int run_idle(const options& o) {
    net::io_context ctx(1);
    std::vector<std::unique_ptr<ws_stream>> sockets;
    sockets.reserve(o.connections);
    long before = rss_kib(o.pid);
    std::size_t opened = 0;
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            for (unsigned i = 0; i < o.connections; ++i) {
                auto ws = co_await open_ws(o.port);
                co_await subscribe(*ws, R"({"op":"subscribe","id":"i","type":")" + o.type +
                                            R"(","group":"idle"})");
                sockets.push_back(std::move(ws));
                ++opened;
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ctx.run();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    long after = rss_kib(o.pid);
    std::printf(
        "idle connections=%zu broker_rss_before_kib=%ld after_kib=%ld per_connection_bytes=%.0f\n",
        opened, before, after,
        opened ? (after - before) * 1024.0 / static_cast<double>(opened) : 0.0);
    return opened == o.connections ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto o = parse(argc, argv);
        if (o.mode == "latency") return run_latency(o);
        if (o.mode == "consume") return run_consume(o);
        if (o.mode == "idle") return run_idle(o);
        if (o.mode == "reference") return run_reference(o);
        throw std::runtime_error("unknown mode " + o.mode);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "deliver_bench: %s\n", e.what());
        return 2;
    }
}
