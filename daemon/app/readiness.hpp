#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "catalog/holder.hpp"
#include "redis/client.hpp"

namespace sluice::app {

// What /readyz reports: ready only while Redis answers, the schemas are loaded (it
// asks the catalog holder, which owns them) and the process is not draining.
// Thread-safe: every member is atomic or immutable.
class readiness {
  public:
    readiness(const redis::client& redis, const catalog::holder& catalogs)
        : redis_(redis), catalogs_(catalogs) {}

    void set_draining() { draining_.store(true); }
    bool is_draining() const { return draining_.load(); }

    // The per-I/O-thread clients publishing goes through: ready needs them up too.
    // Call before the server starts (not thread-safe against readers).
    void add_client(const redis::client& c) { others_.push_back(&c); }

    bool is_redis_up() const {
        if (!redis_.is_up()) return false;
        for (const auto* c : others_)
            if (!c->is_up()) return false;
        return true;
    }
    std::string redis_status() const {
        if (!redis_.is_up()) return redis_.status();
        for (const auto* c : others_)
            if (!c->is_up()) return c->status();
        return {};
    }

    // Empty when ready; otherwise one reason per unmet condition.
    std::vector<std::string> reasons_not_ready() const {
        std::vector<std::string> out;
        if (is_draining()) out.push_back("draining: the broker is shutting down");
        if (!is_redis_up()) out.push_back("redis: " + redis_status());
        if (!catalogs_.is_loaded()) out.push_back("schemas: not loaded");
        return out;
    }

  private:
    const redis::client& redis_;
    std::vector<const redis::client*> others_;
    const catalog::holder& catalogs_;
    std::atomic<bool> draining_{false};
};

}  // namespace sluice::app
