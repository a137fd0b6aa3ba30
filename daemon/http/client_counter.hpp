#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace sluice::http {

// Open connections per client address, for http.max_connections_per_client: one
// address may not take every slot of the listener. Thread-safe (a mutex, taken once
// at accept and once at close, never across I/O); entries go when their count is 0.
class client_counter {
  public:
    // Counts one more connection from `client` unless it already has `limit` (0: no
    // limit). False when refused; the caller then must not call remove().
    bool try_add(const boost::asio::ip::address& client, std::size_t limit);

    void remove(const boost::asio::ip::address& client);

    // Open connections from `client` now.
    std::size_t count(const boost::asio::ip::address& client) const;

  private:
    struct hash {
        std::size_t operator()(const boost::asio::ip::address& a) const noexcept;
    };
    mutable std::mutex mutex_;
    std::unordered_map<boost::asio::ip::address, std::size_t, hash> open_;
};

}  // namespace sluice::http
