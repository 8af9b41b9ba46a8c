// Where an NVMe/RDMA controller queue receives command capsules. One receive buffer holding the SQE and then the
// in-capsule data puts the data 64 bytes past a page boundary: never block-aligned, so a file namespace would
// write every in-capsule write through the page cache instead of O_DIRECT. Instead each receive scatters over two
// SGEs: the 64-byte SQE into a packed SQE array, the data (ICDOFF 0, NVMe/RDMA transport spec 3.2) into a buffer
// of its own starting on a 4 KiB boundary. Both live in one allocation, registered once.
#pragma once
#include <infiniband/verbs.h>

#include <cstddef>
#include <cstdint>

namespace nvmf::fabric::rdma {

class ReceiveLayout {
 public:
  static constexpr std::size_t kDataAlignment = 4096;
  static constexpr std::uint32_t kMaxSges = 2;

  /// `depth` receive buffers for capsules of an SQE plus up to `in_capsule_limit` bytes of data.
  ReceiveLayout(std::uint32_t depth, std::uint32_t in_capsule_limit);

  /// Bytes to allocate (a multiple of kDataAlignment, allocated aligned to it) and register.
  std::size_t total_bytes() const { return total_bytes_; }
  /// Offsets from the start of the allocation.
  std::size_t data_offset(std::uint32_t index) const { return std::size_t(index) * data_stride_; }
  std::size_t sqe_offset(std::uint32_t index) const { return sqe_base_ + std::size_t(index) * kSqeBytes; }
  /// One piece of a receive's scatter list: where in the allocation and how long.
  struct Piece {
    std::size_t offset;
    std::uint32_t length;
  };
  /// The scatter list of receive `index` as offsets (SQE first, then the data); returns the count (1 when the
  /// queue takes no in-capsule data). Fabrics that scatter by iovec (libfabric's fi_recvv) use this directly.
  std::uint32_t pieces(std::uint32_t index, Piece (&out)[kMaxSges]) const;
  /// The same as verbs SGEs in `base` (registered with `lkey`).
  std::uint32_t fill_sges(std::byte* base, std::uint32_t lkey, std::uint32_t index, ibv_sge (&sges)[kMaxSges]) const;

 private:
  static constexpr std::size_t kSqeBytes = 64;
  std::uint32_t in_capsule_limit_;
  std::size_t data_stride_;
  std::size_t sqe_base_;
  std::size_t total_bytes_;
};

}  // namespace nvmf::fabric::rdma
