#include "tests/perf/allocation_counter.hpp"

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define NVMF_COUNT_MALLOC 0
#else
#define NVMF_COUNT_MALLOC 1
#endif

// glibc's real allocator entry points (exported for exactly this kind of wrapper).
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_count{0};
std::atomic<std::size_t> g_first_size{0};

inline void note(std::size_t size) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  if (g_count.fetch_add(1, std::memory_order_relaxed) == 0) g_first_size.store(size, std::memory_order_relaxed);
}

void* new_impl(std::size_t size, std::size_t align) {
  note(size);
  if (size == 0) size = 1;
  // Through malloc/aligned_alloc so that sanitizer builds keep their own bookkeeping (and delete = free).
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (size + align - 1) / align * align)
                                              : std::malloc(size);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

namespace nvmf::test {

void start_counting_allocations() {
  g_count.store(0);
  g_first_size.store(0);
  g_counting.store(true);
}

AllocationCounts stop_counting_allocations() {
  g_counting.store(false);
  return AllocationCounts{g_count.load(), g_first_size.load()};
}

bool counting_malloc() { return NVMF_COUNT_MALLOC; }

}  // namespace nvmf::test

// ---- operator new: counted (the C++ data path would allocate here: std::function, containers, strings) ----
// new_impl counts, then allocates through malloc; the flag keeps the C wrappers below from counting it again.
namespace {
thread_local bool t_in_new = false;
struct InNew {
  InNew() { t_in_new = true; }
  ~InNew() { t_in_new = false; }
};
}  // namespace

void* operator new(std::size_t size) {
  InNew guard;
  return new_impl(size, 0);
}
void* operator new[](std::size_t size) {
  InNew guard;
  return new_impl(size, 0);
}
void* operator new(std::size_t size, std::align_val_t align) {
  InNew guard;
  return new_impl(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  InNew guard;
  return new_impl(size, static_cast<std::size_t>(align));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  InNew guard;
  try {
    return new_impl(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  InNew guard;
  try {
    return new_impl(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

#if NVMF_COUNT_MALLOC
// ---- the C allocator: counted too (liburing, libc and C code would allocate here) ----
// free() needs no wrapper: every path below ends in glibc's own allocator.
extern "C" {
void* malloc(std::size_t size) {
  if (!t_in_new) note(size);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  note(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  note(size);
  return __libc_realloc(p, size);
}
void* memalign(std::size_t align, std::size_t size) {
  if (!t_in_new) note(size);
  return __libc_memalign(align, size);
}
void* aligned_alloc(std::size_t align, std::size_t size) {
  if (!t_in_new) note(size);
  return __libc_memalign(align, size);
}
int posix_memalign(void** out, std::size_t align, std::size_t size) {
  note(size);
  void* p = __libc_memalign(align, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif
