#pragma once

#include <atomic>
#include <memory>
#include <utility>

#include "catalog/schema_catalog.hpp"

namespace sluice::catalog {

// The schema catalog in service: loaded at start, swapped whole on reload, read once
// per request by every I/O thread. Readers keep the catalog they got for as long as
// they hold it, so a swap never changes one under a request. Thread-safe: one atomic
// shared_ptr.
class holder {
  public:
    holder() = default;
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;

    // The current catalog; null before the first set().
    std::shared_ptr<const schema_catalog> get() const {
        return current_.load(std::memory_order_acquire);
    }
    // Replaces the catalog for every request that starts after it.
    void set(std::shared_ptr<const schema_catalog> c) {
        current_.store(std::move(c), std::memory_order_release);
    }
    bool is_loaded() const { return get() != nullptr; }

  private:
    std::atomic<std::shared_ptr<const schema_catalog>> current_;
};

}  // namespace sluice::catalog
