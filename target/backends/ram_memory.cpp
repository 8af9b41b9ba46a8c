#include "target/backends/ram_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace nvmf::target {

namespace {
constexpr std::uint64_t kHugePage = 2ull << 20;  // x86-64 and arm64 (4 KiB base pages) PMD size

std::string size_text(std::uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

/// Writes every page of [p, p + size): the populate path for kernels before 5.14. A failure to get a page here
/// is the OOM killer's, not an errno; the mapping was committed (no MAP_NORESERVE) so overcommit refuses first
/// under strict accounting.
void touch_every_page(std::byte* p, std::uint64_t size) {
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  for (std::uint64_t off = 0; off < size; off += page) *reinterpret_cast<volatile std::byte*>(p + off) = std::byte{0};
}

void populate(std::byte* p, std::uint64_t size) {
  if (madvise(p, size, MADV_POPULATE_WRITE) == 0) return;
  const int err = errno;
  if (err == EINVAL) {  // A kernel before 5.14 does not know the advice.
    touch_every_page(p, size);
    return;
  }
  throw RamMemoryError("prefault", "cannot populate " + size_text(size) + " (MADV_POPULATE_WRITE): " +
                                       std::strerror(err));
}
}  // namespace

std::string transparent_huge_page_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  // "always [madvise] never": the bracketed word is the policy in force.
  const auto open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return line.substr(open + 1, close - open - 1);
}

RamMemory::RamMemory(std::uint64_t size_bytes, RamOptions options) : size_(size_bytes), options_(options) {
  if (options_.huge_pages && !options_.prefault)
    throw RamMemoryError("huge_pages", "needs prefault (on-demand huge pages stall the first write to each 2 MiB)");
  if (options_.huge_pages) {
    const std::string mode = transparent_huge_page_mode();
    if (mode.empty())
      throw RamMemoryError("huge_pages", "this kernel has no transparent huge pages "
                                         "(/sys/kernel/mm/transparent_hugepage/enabled is missing)");
    if (mode == "never")
      throw RamMemoryError("huge_pages", "transparent huge pages are disabled on this system "
                                         "(/sys/kernel/mm/transparent_hugepage/enabled is 'never'; set 'madvise' "
                                         "or drop huge_pages)");
  }
  // Sparse: MAP_NORESERVE, a large namespace costs only the pages the host writes. Prefaulted: the whole size is
  // charged to the commit limit now, so strict overcommit refuses it here rather than the OOM killer later.
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (options_.prefault ? 0 : MAP_NORESERVE);
  // Huge pages need 2 MiB-aligned virtual addresses: map one huge page more and start at the first boundary.
  mapping_size_ = size_ + (options_.huge_pages ? kHugePage : 0);
  void* p = mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    if (options_.prefault)
      throw RamMemoryError("prefault", "cannot commit " + size_text(size_) + ": " + std::strerror(err));
    throw RamMemoryError("size", "cannot map " + size_text(size_) + ": " + std::strerror(err));
  }
  mapping_ = static_cast<std::byte*>(p);
  data_ = mapping_;
  if (options_.huge_pages) {
    const auto address = reinterpret_cast<std::uintptr_t>(mapping_);
    data_ = mapping_ + ((kHugePage - address % kHugePage) % kHugePage);
  }
  try {
    if (options_.huge_pages && madvise(data_, size_, MADV_HUGEPAGE) != 0)
      throw RamMemoryError("huge_pages", std::string("madvise(MADV_HUGEPAGE): ") + std::strerror(errno));
    if (options_.prefault) populate(data_, size_);
  } catch (...) {
    munmap(mapping_, mapping_size_);
    throw;
  }
}

RamMemory::~RamMemory() { munmap(mapping_, mapping_size_); }

std::uint64_t RamMemory::huge_page_bytes() const {
  // smaps lists each VMA ("start-end perms ...") followed by its counters; MADV_HUGEPAGE may have split the
  // mapping, so add up every VMA that overlaps the namespace's range.
  std::ifstream smaps("/proc/self/smaps");
  const auto first = reinterpret_cast<std::uintptr_t>(data_), last = first + size_;
  std::uint64_t total = 0;
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    std::uintmax_t start = 0, end = 0, kib = 0;
    if (std::sscanf(line.c_str(), "%jx-%jx ", &start, &end) == 2 && line.find('-') < line.find(' '))
      inside = start < last && end > first;
    else if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ju kB", &kib) == 1)
      total += kib * 1024;
  }
  return total;
}

}  // namespace nvmf::target
