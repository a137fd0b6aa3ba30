#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.hpp"

namespace sluice::app {

// The systemd notification protocol (sd_notify(3)) without libsystemd: a datagram of
// newline-separated `VARIABLE=value` lines sent to the unix socket named by
// $NOTIFY_SOCKET. The parsing and formatting below are pure functions; the
// `systemd_notifier` at the end is the thin I/O shell around them.

// Where $NOTIFY_SOCKET points, ready for sendto().
struct notify_address {
    sockaddr_un addr{};
    socklen_t length = 0;
};

// Parses $NOTIFY_SOCKET: an absolute path ("/run/systemd/notify") or an abstract
// socket ("@name"; the '@' becomes the leading NUL of an abstract address). Returns
// nullopt and sets `error` for anything else: empty, relative, too long for
// sun_path (107 bytes), or another transport such as systemd 254's "vsock:".
std::optional<notify_address> parse_notify_socket(std::string_view value, std::string& error);

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3)
// advises. nullopt when no watchdog applies to process `self`: WATCHDOG_USEC unset,
// zero or not a number, or WATCHDOG_PID naming another process.
std::optional<std::chrono::microseconds> watchdog_ping_period(
    const std::optional<std::string>& watchdog_usec, const std::optional<std::string>& watchdog_pid,
    pid_t self);

// A STATUS= value on one line: newlines (which would start another assignment)
// become spaces, and it is cut at 1024 bytes (systemd shows one line).
std::string status_value(std::string_view text);

// The messages Sluice sends; `status` goes through status_value().
namespace notify_message {
// The service is up: /readyz answers 200 (also the end of a reload).
std::string ready(std::string_view status);
// SIGHUP: a reload started. MONOTONIC_USEC (CLOCK_MONOTONIC) lets systemd 253+ match
// it to its own reload request; older versions ignore it.
std::string reloading(std::chrono::microseconds monotonic_now, std::string_view status);
// A drain started.
std::string stopping(std::string_view status);
std::string status(std::string_view status);
inline constexpr std::string_view watchdog = "WATCHDOG=1";
}  // namespace notify_message

// Sends notifications to systemd. Disabled (every send a no-op) when $NOTIFY_SOCKET is
// unset, that is when systemd did not start us as Type=notify. A send never blocks:
// when the receiver's queue is full the message is dropped, as a failing sd_notify
// call would be. Not thread-safe: the control thread owns it.
class systemd_notifier {
  public:
    systemd_notifier() = default;  // disabled
    systemd_notifier(notify_address to, std::optional<std::chrono::microseconds> watchdog);
    ~systemd_notifier();
    systemd_notifier(systemd_notifier&& other) noexcept;
    systemd_notifier& operator=(systemd_notifier&& other) noexcept;
    systemd_notifier(const systemd_notifier&) = delete;
    systemd_notifier& operator=(const systemd_notifier&) = delete;

    // From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. A NOTIFY_SOCKET that cannot be
    // used is logged and leaves the notifier disabled.
    static systemd_notifier from_environment(const config::env_lookup& env);

    bool is_enabled() const { return fd_ >= 0; }
    // How often to send WATCHDOG=1; nullopt when systemd asked for no watchdog.
    std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_; }

    // Sends one datagram. False when disabled or when the send failed (the first
    // failure is logged).
    bool send(std::string_view message);

  private:
    int fd_ = -1;
    notify_address to_{};
    std::optional<std::chrono::microseconds> watchdog_;
    bool failure_logged_ = false;
};

}  // namespace sluice::app
