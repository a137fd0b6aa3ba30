#pragma once

#include <functional>
#include <utility>

namespace sluice::http {

// A connection's place in the server's counts (sluice_http_open_connections, the
// http.max_connections and per-client limits, the drain's wait for open
// connections), given back when the lease ends. The HTTP session holds it; an upgrade
// hands it on with the socket, so a WebSocket counts as a connection for as long as it
// lives. Move-only; ends on the thread that holds it last. A lease that outlives its
// server gives nothing back.
class connection_lease {
  public:
    connection_lease() = default;
    explicit connection_lease(std::function<void()> release) : release_(std::move(release)) {}
    connection_lease(connection_lease&& other) noexcept
        : release_(std::exchange(other.release_, nullptr)) {}
    connection_lease& operator=(connection_lease&& other) noexcept {
        if (this != &other) {
            reset();
            release_ = std::exchange(other.release_, nullptr);
        }
        return *this;
    }
    connection_lease(const connection_lease&) = delete;
    connection_lease& operator=(const connection_lease&) = delete;
    ~connection_lease() { reset(); }

    void reset() {
        if (auto release = std::exchange(release_, nullptr)) release();
    }

  private:
    std::function<void()> release_;
};

}  // namespace sluice::http
