// systemd's Type=notify protocol, end to end: the real binary started with
// NOTIFY_SOCKET pointing at a unix datagram socket this test owns, as systemd would.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <random>

#include "support/broker_process.hpp"
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// Plays systemd's side: a bound SOCK_DGRAM socket at a path or an abstract ("@") name.
class notify_listener {
  public:
    explicit notify_listener(std::string address) : address_(std::move(address)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        REQUIRE(address_.size() < sizeof a.sun_path);
        std::memcpy(a.sun_path, address_.data(), address_.size());
        bool abstract = address_.front() == '@';
        if (abstract) a.sun_path[0] = '\0';
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                          (abstract ? 0 : 1));
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    }
    ~notify_listener() {
        ::close(fd_);
        if (address_.front() == '/') ::unlink(address_.c_str());
    }
    notify_listener(const notify_listener&) = delete;
    notify_listener& operator=(const notify_listener&) = delete;

    const std::string& address() const { return address_; }

    // The next datagram, or nothing within `wait`. Every datagram is also kept in `all`.
    std::optional<std::string> receive(std::chrono::milliseconds wait) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
        char buf[4096];
        auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0) return std::nullopt;
        all.emplace_back(buf, static_cast<std::size_t>(n));
        return all.back();
    }

    // Reads datagrams until one contains `needle`; that one, or nothing after `wait`.
    std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds wait) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto m = receive(std::max(left, 1ms));
            if (m && m->find(needle) != std::string::npos) return m;
        }
        return std::nullopt;
    }

    // Everything that arrives within `wait`.
    std::vector<std::string> collect(std::chrono::milliseconds wait) {
        std::vector<std::string> out;
        auto deadline = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (auto m = receive(std::max(left, 1ms))) out.push_back(*m);
        }
        return out;
    }

    std::vector<std::string> all;

  private:
    std::string address_;
    int fd_ = -1;
};

std::string unique_name() {
    std::random_device rd;
    return "sluice-notify-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
}

std::size_t count_containing(const std::vector<std::string>& v, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& m : v)
        if (m.find(needle) != std::string::npos) ++n;
    return n;
}

}  // namespace

TEST_CASE(
    "Type=notify: READY=1 only once Redis answers, watchdog pings, RELOADING around SIGHUP, "
    "STOPPING on SIGTERM",
    "[daemon][redis]") {
    test::redis_server redis;
    redis.kill();  // down at start: the broker must not claim to be ready
    test::broker_config cfg(redis.url());
    notify_listener systemd((std::filesystem::temp_directory_path() / unique_name()).string());
    test::child_process broker({SLUICE_BINARY, "--config", cfg.file.string()},
                               {{"NOTIFY_SOCKET", systemd.address()}, {"WATCHDOG_USEC", "200000"}});
    REQUIRE(broker.wait_for_output("\"msg\":\"listening\"", 10s));

    // Redis down: watchdog pings (every 100 ms) and a status, but no READY=1.
    auto early = systemd.collect(1s);
    CHECK(count_containing(early, "READY=1") == 0);
    CHECK(count_containing(early, "WATCHDOG=1") >= 5);
    CHECK(count_containing(early, "STATUS=not ready: redis: ") >= 1);
    CHECK(test::http_get(cfg.port, "/readyz").status == 503);

    redis.start();
    auto ready = systemd.wait_for("READY=1", 5s);
    REQUIRE(ready);
    CHECK_THAT(*ready, Contains("STATUS=ready: 127.0.0.1:" + std::to_string(cfg.port)));
    CHECK_THAT(*ready, Contains("2 event types"));
    // READY=1 means what /readyz says.
    CHECK(test::http_get(cfg.port, "/readyz").status == 200);

    // SIGHUP: RELOADING=1 (with the monotonic time systemd 253+ wants), then READY=1.
    broker.signal(SIGHUP);
    auto reloading = systemd.wait_for("RELOADING=1", 5s);
    REQUIRE(reloading);
    CHECK_THAT(*reloading, Contains("\nMONOTONIC_USEC="));
    auto reloaded = systemd.wait_for("READY=1", 5s);
    REQUIRE(reloaded);
    CHECK_THAT(*reloaded, Contains("STATUS=ready: "));

    // A refused reload ends the reload all the same, saying why.
    cfg.write(redis.url(), "http:\n  bogus_key: 1\n");
    broker.signal(SIGHUP);
    REQUIRE(systemd.wait_for("RELOADING=1", 5s));
    auto refused = systemd.wait_for("READY=1", 5s);
    REQUIRE(refused);
    CHECK_THAT(*refused, Contains("STATUS=reload refused, the old config serves: "));
    CHECK_THAT(*refused, Contains("unknown key 'bogus_key'"));

    broker.signal(SIGTERM);
    auto stopping = systemd.wait_for("STOPPING=1", 5s);
    REQUIRE(stopping);
    CHECK_THAT(*stopping, Contains("STATUS=draining"));
    CHECK(broker.wait(5s) == 0);
}

TEST_CASE("Type=notify over an abstract socket, and no watchdog pings for another WATCHDOG_PID",
          "[daemon][redis]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url());
    notify_listener systemd("@" + unique_name());
    test::child_process broker(
        {SLUICE_BINARY, "--config", cfg.file.string()},
        {{"NOTIFY_SOCKET", systemd.address()}, {"WATCHDOG_USEC", "200000"}, {"WATCHDOG_PID", "1"}});
    REQUIRE(systemd.wait_for("READY=1", 10s));
    systemd.collect(600ms);
    CHECK(count_containing(systemd.all, "WATCHDOG=1") == 0);
    broker.signal(SIGTERM);
    CHECK(systemd.wait_for("STOPPING=1", 5s));
    CHECK(broker.wait(5s) == 0);
}

TEST_CASE("an unusable NOTIFY_SOCKET is logged and the broker runs on", "[daemon][redis]") {
    test::redis_server redis;
    test::broker_config cfg(redis.url());
    test::child_process broker({SLUICE_BINARY, "--config", cfg.file.string()},
                               {{"NOTIFY_SOCKET", "relative/notify"}});
    REQUIRE(broker.wait_for_output("\"msg\":\"listening\"", 10s));
    CHECK_THAT(broker.output(), Contains("not notifying systemd"));
    CHECK(test::wait_for_status(cfg.port, "/readyz", 200, 5s).status == 200);
    broker.signal(SIGTERM);
    CHECK(broker.wait(5s) == 0);
}
