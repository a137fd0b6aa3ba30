#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "catalog/schema_catalog.hpp"
#include "redis/client.hpp"

namespace sluice::app {

// What /readyz reports: ready only while Redis answers, the schemas are loaded and
// the process is not draining. Thread-safe: every member is atomic or immutable.
class readiness {
  public:
    explicit readiness(const redis::client& redis) : redis_(redis) {}

    void set_catalog(std::shared_ptr<const catalog::schema_catalog> c) {
        catalog_.store(std::move(c));
    }
    std::shared_ptr<const catalog::schema_catalog> catalog() const { return catalog_.load(); }

    void set_draining() { draining_.store(true); }
    bool is_draining() const { return draining_.load(); }

    bool is_redis_up() const { return redis_.is_up(); }
    std::string redis_status() const { return redis_.status(); }

    // Empty when ready; otherwise one reason per unmet condition.
    std::vector<std::string> reasons_not_ready() const {
        std::vector<std::string> out;
        if (is_draining()) out.push_back("draining: the broker is shutting down");
        if (!redis_.is_up()) out.push_back("redis: " + redis_.status());
        if (!catalog()) out.push_back("schemas: not loaded");
        return out;
    }

  private:
    const redis::client& redis_;
    std::atomic<std::shared_ptr<const catalog::schema_catalog>> catalog_;
    std::atomic<bool> draining_{false};
};

}  // namespace sluice::app
