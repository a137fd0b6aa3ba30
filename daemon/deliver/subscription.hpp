#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::auth {
struct principal;
}

namespace sluice::deliver {

// Who a WebSocket acts as: `who` (kept alive by `keep`), or nobody yet and `why`.
struct ws_identity {
    const auth::principal* who = nullptr;
    std::shared_ptr<const void> keep;
    std::string why;  // when `who` is null: a sentence for the client
};

// How a WebSocket is authenticated (docs/security.md). Without `identify` every op is
// let through (a hub used without the broker's gate, as in tests). With it, `opened`
// is who opened the socket; nobody (who null) means its first frame must be an `auth`
// frame within `auth_timeout`, which `identify` checks, as it does a later one that
// refreshes the credential. A non-empty `refusal` is the whole HTTP answer sent
// instead of the upgrade (401, 403), after which the connection closes.
struct ws_access {
    ws_identity opened;
    std::function<ws_identity(std::string_view token)> identify;
    std::chrono::milliseconds auth_timeout{10'000};
    std::string refusal;
    // Rate limit on subscribes: seconds to wait when `who` is over it, else nothing.
    std::function<std::optional<long long>(const auth::principal* who)> limit_subscribe;
};

using clock_type = std::chrono::steady_clock;
struct subscription;

// One outgoing text frame: `head`, then the shared `body` (an event's JSON, the same
// bytes for every subscriber that gets it) and a closing '}'. Without a body, `head`
// is the whole frame.
struct out_frame {
    std::string head;
    std::shared_ptr<const std::string> body;
    std::uint64_t entry_ms = 0;            // an event's stream time, for delivery latency
    std::shared_ptr<subscription> fanout;  // a fan-out frame: frees the window once written
};

// Where a subscription's frames go: the WebSocket session that owns it.
class frame_sink {
  public:
    virtual void send(out_frame f) = 0;

  protected:
    ~frame_sink() = default;
};

// One subscription on one socket. Owned by its socket's session and shared with the
// reader that feeds it; lives on one I/O thread, so nothing here is locked.
struct subscription {
    std::string id;  // the client's name for it, unique on its socket
    std::string type;
    std::string group;  // empty: fan-out
    unsigned window = 100;
    std::chrono::milliseconds ack_timeout{30'000};
    frame_sink* sink = nullptr;  // null once the socket or the subscription is gone

    // Consumer groups: its member id in the group's dispatcher, which holds what it
    // was delivered and its credit.
    std::uint64_t member = 0;

    // Fan-out: frames handed to the socket and not yet written.
    unsigned queued = 0;

    // Called when the window opens again (an ack, a written fan-out frame).
    std::function<void()> on_credit;

    bool open() const { return sink != nullptr; }
    // Stops deliveries to it and wakes whatever waits to feed it.
    void close() {
        sink = nullptr;
        if (on_credit) on_credit();
    }
    // Fan-out: the window left.
    unsigned credit() const { return open() && queued < window ? window - queued : 0; }
};

}  // namespace sluice::deliver
