#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>

namespace sluice::http {

// What the I/O thread serving a request lends it: the objects the composition root
// made for that thread (its Redis client, its store, its delivery hub), each found by
// its type. The server is given one slot per thread before it starts
// (server::set_worker) and hands it, unopened, to every handler and upgrade handler
// that thread runs, so no handler looks anything up by executor. The HTTP layer only
// carries the pointers: it includes nothing of what they point to.
//
// Thread model: filled before the server starts, then read-only; each slot is read
// only by its own I/O thread.
class worker_slot {
  public:
    // Lends `object` to the thread's requests; it must outlive the server. Throws
    // std::logic_error when a type is lent twice or the slot is full (a wiring defect).
    template <typename T>
    void lend(T& object) {
        if (lookup(key<T>())) throw std::logic_error("worker_slot: a type lent twice");
        if (size_ == entries_.size()) throw std::logic_error("worker_slot: full");
        entries_[size_++] = {key<T>(), &object};
    }

    // The lent object of type `T`. Throws std::logic_error when the thread lends none
    // (a wiring defect: the service answers 500 and logs it).
    template <typename T>
    T& get() const {
        void* p = lookup(key<T>());
        if (!p) throw std::logic_error("worker_slot: nothing of this type was lent");
        return *static_cast<T*>(p);
    }

    // The lent object of type `T`, or null.
    template <typename T>
    T* find() const {
        return static_cast<T*>(lookup(key<T>()));
    }

  private:
    // One address per type, the same in every translation unit (an inline variable),
    // so the slot needs neither RTTI nor complete types.
    template <typename T>
    static constexpr char tag = 0;
    template <typename T>
    static const void* key() {
        return &tag<T>;
    }

    void* lookup(const void* k) const {
        for (std::size_t i = 0; i < size_; ++i)
            if (entries_[i].key == k) return entries_[i].object;
        return nullptr;
    }

    struct entry {
        const void* key = nullptr;
        void* object = nullptr;
    };
    std::array<entry, 4> entries_{};
    std::size_t size_ = 0;
};

}  // namespace sluice::http
