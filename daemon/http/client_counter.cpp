#include "http/client_counter.hpp"

#include <functional>
#include <string_view>

namespace sluice::http {

std::size_t client_counter::hash::operator()(const boost::asio::ip::address& a) const noexcept {
    if (a.is_v4()) return std::hash<unsigned>()(a.to_v4().to_uint());
    auto bytes = a.to_v6().to_bytes();
    return std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool client_counter::try_add(const boost::asio::ip::address& client, std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto& n = open_[client];
    if (limit > 0 && n >= limit) {
        if (n == 0) open_.erase(client);
        return false;
    }
    ++n;
    return true;
}

void client_counter::remove(const boost::asio::ip::address& client) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(client);
    if (it == open_.end()) return;
    if (--it->second == 0) open_.erase(it);
}

std::size_t client_counter::count(const boost::asio::ip::address& client) const {
    std::lock_guard lock(mutex_);
    auto it = open_.find(client);
    return it == open_.end() ? 0 : it->second;
}

}  // namespace sluice::http
