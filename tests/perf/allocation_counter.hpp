// Counts heap allocations made by any thread of the test process while counting is on. Linking
// allocation_counter.cpp replaces the global operator new (every form) and, outside AddressSanitizer builds (whose
// runtime owns malloc), the C allocation functions, forwarding to glibc. A test turns counting on around the
// loop it claims to be allocation-free and asserts the count stayed zero.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nvmf::test {

struct AllocationCounts {
  std::uint64_t count = 0;         ///< Allocations while counting was on
  std::size_t first_size = 0;      ///< Size of the first one (a hint when the assertion fails)
};

void start_counting_allocations();
AllocationCounts stop_counting_allocations();
/// False in sanitizer builds, where only operator new is counted (malloc belongs to the sanitizer runtime).
bool counting_malloc();

}  // namespace nvmf::test
