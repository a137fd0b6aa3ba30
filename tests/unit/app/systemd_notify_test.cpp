#include "app/systemd_notify.hpp"

#include <catch2/catch.hpp>
#include <cstddef>
#include <string>

using namespace sluice::app;
using Catch::Matchers::Contains;

namespace {

std::string address_bytes(const notify_address& a) {
    return std::string(a.addr.sun_path, a.length - offsetof(sockaddr_un, sun_path));
}

}  // namespace

TEST_CASE("NOTIFY_SOCKET: a path is NUL-terminated, an abstract name is not", "[unit]") {
    std::string error;
    auto path = parse_notify_socket("/run/systemd/notify", error);
    REQUIRE(path);
    CHECK(path->addr.sun_family == AF_UNIX);
    CHECK(address_bytes(*path) == std::string("/run/systemd/notify\0", 20));

    auto abstract = parse_notify_socket("@/org/freedesktop/systemd1/notify/42", error);
    REQUIRE(abstract);
    // The '@' becomes the leading NUL, and the length ends exactly at the name.
    CHECK(address_bytes(*abstract) == std::string("\0/org/freedesktop/systemd1/notify/42", 36));
}

TEST_CASE("NOTIFY_SOCKET values systemd would not use are refused with a reason", "[unit]") {
    std::string error;
    CHECK_FALSE(parse_notify_socket("", error));
    CHECK_THAT(error, Contains("empty"));
    CHECK_FALSE(parse_notify_socket("run/notify", error));
    CHECK_THAT(error, Contains("neither an absolute path nor an abstract socket"));
    CHECK_FALSE(parse_notify_socket("vsock:2:1234", error));
    CHECK_FALSE(parse_notify_socket("/" + std::string(107, 'x'), error));
    CHECK_THAT(error, Contains("longer than a unix socket address allows (107 bytes)"));
    // The longest that fit: 107 bytes of path plus its NUL, 108 bytes of abstract name.
    CHECK(parse_notify_socket("/" + std::string(106, 'x'), error));
    CHECK(parse_notify_socket("@" + std::string(107, 'x'), error));
    CHECK_FALSE(parse_notify_socket("@" + std::string(108, 'x'), error));
}

TEST_CASE("the watchdog pings at half of WATCHDOG_USEC, only for the process it names", "[unit]") {
    using std::chrono::microseconds;
    CHECK(watchdog_ping_period("30000000", std::nullopt, 77) == microseconds(15'000'000));
    CHECK(watchdog_ping_period("30000000", "77", 77) == microseconds(15'000'000));
    CHECK_FALSE(watchdog_ping_period("30000000", "78", 77));  // meant for another process
    CHECK_FALSE(watchdog_ping_period("30000000", "x", 77));
    CHECK_FALSE(watchdog_ping_period(std::nullopt, std::nullopt, 77));
    CHECK_FALSE(watchdog_ping_period("0", std::nullopt, 77));
    CHECK_FALSE(watchdog_ping_period("-5", std::nullopt, 77));
    CHECK_FALSE(watchdog_ping_period("30s", std::nullopt, 77));
    CHECK_FALSE(watchdog_ping_period("", std::nullopt, 77));
    CHECK(watchdog_ping_period("1", std::nullopt, 77) == microseconds(1));
}

TEST_CASE("notification messages are VARIABLE=value lines and STATUS stays on one line", "[unit]") {
    CHECK(notify_message::ready("ready: 2 event types") == "READY=1\nSTATUS=ready: 2 event types");
    CHECK(notify_message::stopping("draining") == "STOPPING=1\nSTATUS=draining");
    CHECK(notify_message::reloading(std::chrono::microseconds(1234567), "reloading x") ==
          "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=reloading x");
    CHECK(notify_message::watchdog == "WATCHDOG=1");
    // A config error spanning lines must not smuggle in READY=1 or anything else.
    CHECK(notify_message::status("bad\nREADY=1\r\nx") == "STATUS=bad READY=1  x");
    CHECK(status_value(std::string(5000, 'a')).size() == 1024);
}

TEST_CASE("a notifier without NOTIFY_SOCKET does nothing", "[unit]") {
    auto none = systemd_notifier::from_environment(
        [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
    CHECK_FALSE(none.is_enabled());
    CHECK_FALSE(none.watchdog_period());
    CHECK_FALSE(none.send(notify_message::watchdog));

    auto bad =
        systemd_notifier::from_environment([](std::string_view name) -> std::optional<std::string> {
            if (name == "NOTIFY_SOCKET") return "relative/path";
            return std::nullopt;
        });
    CHECK_FALSE(bad.is_enabled());
}
