#include "app/systemd_notify.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <system_error>
#include <utility>

#include "log/logger.hpp"

namespace sluice::app {

namespace {

// A whole decimal number, nothing else.
template <typename Int>
std::optional<Int> parse_number(const std::string& text) {
    Int value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<notify_address> parse_notify_socket(std::string_view value, std::string& error) {
    notify_address out;
    out.addr.sun_family = AF_UNIX;
    if (value.empty()) {
        error = "NOTIFY_SOCKET is empty";
        return std::nullopt;
    }
    if (value.front() != '/' && value.front() != '@') {
        error = "NOTIFY_SOCKET '" + std::string(value) +
                "' is neither an absolute path nor an abstract socket ('@name')";
        return std::nullopt;
    }
    // A path needs its terminating NUL inside sun_path; an abstract name does not.
    std::size_t room = sizeof out.addr.sun_path - (value.front() == '/' ? 1 : 0);
    if (value.size() > room) {
        error = "NOTIFY_SOCKET is longer than a unix socket address allows (" +
                std::to_string(room) + " bytes)";
        return std::nullopt;
    }
    std::memcpy(out.addr.sun_path, value.data(), value.size());
    if (value.front() == '@') out.addr.sun_path[0] = '\0';
    // An abstract address is exactly as long as its name: trailing NULs would be part of it.
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() +
                                        (value.front() == '/' ? 1 : 0));
    return out;
}

std::optional<std::chrono::microseconds> watchdog_ping_period(
    const std::optional<std::string>& watchdog_usec, const std::optional<std::string>& watchdog_pid,
    pid_t self) {
    if (!watchdog_usec) return std::nullopt;
    auto usec = parse_number<std::uint64_t>(*watchdog_usec);
    if (!usec || *usec == 0) return std::nullopt;
    if (watchdog_pid) {
        auto pid = parse_number<pid_t>(*watchdog_pid);
        if (!pid || *pid != self) return std::nullopt;
    }
    // Ping twice per period, so one late tick does not get the service killed.
    return std::chrono::microseconds(std::max<std::uint64_t>(*usec / 2, 1));
}

std::string status_value(std::string_view text) {
    constexpr std::size_t max_bytes = 1024;
    std::string out(text.substr(0, max_bytes));
    for (auto& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

namespace notify_message {

std::string ready(std::string_view status) {
    return "READY=1\nSTATUS=" + status_value(status);
}

std::string reloading(std::chrono::microseconds monotonic_now, std::string_view status) {
    return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_now.count()) +
           "\nSTATUS=" + status_value(status);
}

std::string stopping(std::string_view status) {
    return "STOPPING=1\nSTATUS=" + status_value(status);
}

std::string status(std::string_view status) {
    return "STATUS=" + status_value(status);
}

}  // namespace notify_message

systemd_notifier::systemd_notifier(notify_address to,
                                   std::optional<std::chrono::microseconds> watchdog)
    : to_(to), watchdog_(watchdog) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        log::warn("cannot create the systemd notification socket; not notifying systemd",
                  {{"error", std::generic_category().message(errno)}});
}

systemd_notifier::~systemd_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

systemd_notifier::systemd_notifier(systemd_notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1))
    , to_(other.to_)
    , watchdog_(other.watchdog_)
    , failure_logged_(other.failure_logged_) {}

systemd_notifier& systemd_notifier::operator=(systemd_notifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        to_ = other.to_;
        watchdog_ = other.watchdog_;
        failure_logged_ = other.failure_logged_;
    }
    return *this;
}

systemd_notifier systemd_notifier::from_environment(const config::env_lookup& env) {
    auto socket = env("NOTIFY_SOCKET");
    if (!socket) return {};
    std::string error;
    auto to = parse_notify_socket(*socket, error);
    if (!to) {
        log::warn("not notifying systemd", {{"error", error}});
        return {};
    }
    return systemd_notifier(
        *to, watchdog_ping_period(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), ::getpid()));
}

bool systemd_notifier::send(std::string_view message) {
    if (fd_ < 0) return false;
    auto n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                      reinterpret_cast<const sockaddr*>(&to_.addr), to_.length);
    if (n == static_cast<ssize_t>(message.size())) return true;
    if (!failure_logged_) {
        failure_logged_ = true;
        log::warn("cannot notify systemd (logged once)",
                  {{"error", std::generic_category().message(errno)}});
    }
    return false;
}

}  // namespace sluice::app
