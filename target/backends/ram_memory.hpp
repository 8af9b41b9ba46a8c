// The anonymous memory behind a RAM namespace. Sparse by default (MAP_NORESERVE: pages arrive on the host's first
// write to them, one page fault each in the data path). Prefaulted: committed and written at creation
// (MADV_POPULATE_WRITE, or a touch of every page before Linux 5.14), so the data path never faults and the
// namespace's resident memory is its size from the start. With huge pages: MADV_HUGEPAGE on a 2 MiB-aligned
// mapping before populating, so the kernel's compaction stall happens at creation and random reads hit the TLB.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace nvmf::target {

struct RamOptions {
  bool prefault = false;
  bool huge_pages = false;  ///< Only with prefault (on-demand huge pages stall the first write to each 2 MiB)
};

/// A RAM namespace's memory refused, with the configuration field to blame ("size", "prefault", "huge_pages").
class RamMemoryError : public std::runtime_error {
 public:
  RamMemoryError(std::string field, const std::string& what) : std::runtime_error(what), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// One anonymous mapping, unmapped on destruction.
class RamMemory {
 public:
  /// Throws RamMemoryError (cannot map, commit, populate, or get huge pages) with the reason; nothing stays
  /// mapped after a throw.
  RamMemory(std::uint64_t size_bytes, RamOptions options);
  ~RamMemory();
  RamMemory(const RamMemory&) = delete;
  RamMemory& operator=(const RamMemory&) = delete;

  std::byte* data() const { return data_; }
  std::uint64_t size() const { return size_; }
  const RamOptions& options() const { return options_; }
  /// Bytes of the mapping the kernel backs with transparent huge pages now (/proc/self/smaps AnonHugePages).
  std::uint64_t huge_page_bytes() const;

 private:
  std::uint64_t size_;
  RamOptions options_;
  std::byte* data_ = nullptr;
  std::byte* mapping_ = nullptr;  ///< What munmap gets: data_ rounded down when aligned for huge pages
  std::uint64_t mapping_size_ = 0;
};

/// The system's transparent huge page policy: "always", "madvise", "never", or "" when the kernel has no THP.
std::string transparent_huge_page_mode();

}  // namespace nvmf::target
