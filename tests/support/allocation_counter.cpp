#include "support/allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
thread_local bool excluded = false;
}  // namespace

void* operator new(std::size_t n) {
    if (counting.load(std::memory_order_relaxed) && !excluded)
        allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace sluice::test {

void start_counting_allocations() {
    allocations = 0;
    counting = true;
}

std::size_t stop_counting_allocations() {
    counting = false;
    return allocations.load();
}

void exclude_this_thread_from_allocation_count() {
    excluded = true;
}

}  // namespace sluice::test
