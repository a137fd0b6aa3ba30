#pragma once

#include <cstddef>

namespace sluice::test {

// Counts calls to the global operator new, which allocation_counter.cpp replaces:
// link that file into a test program of its own (never under AddressSanitizer, which
// owns operator new). Counts every thread except those that called exclude_this_thread().
void start_counting_allocations();
// Stops counting and returns how many allocations were made since the start.
std::size_t stop_counting_allocations();
// This thread's allocations are never counted (a test client's, say).
void exclude_this_thread_from_allocation_count();

}  // namespace sluice::test
