// Completion queue entry (NVMe base spec 4.6): 16 bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/endian.hpp"
#include "nvme/status.hpp"

namespace nvmf::nvme {

struct Cqe {
  le32 dw0;     ///< Command specific (Connect: CNTLID; Property Get: value low)
  le32 dw1;     ///< Command specific (Property Get of an 8-byte property: value high)
  le16 sqhd;    ///< Submission queue head pointer
  le16 sqid;    ///< Submission queue identifier
  le16 cid;     ///< Command identifier
  le16 status;  ///< Phase tag (bit 0) and status field (bits 15:1)

  Status get_status() const { return Status::from_cqe_field(status); }
  void set_status(Status s) { status = s.to_cqe_field(); }
  /// DW0 and DW1 as one 64-bit result (Property Get of CAP).
  std::uint64_t result64() const { return std::uint64_t(dw1) << 32 | dw0; }
};
static_assert(sizeof(Cqe) == 16);
static_assert(offsetof(Cqe, dw0) == 0);
static_assert(offsetof(Cqe, dw1) == 4);
static_assert(offsetof(Cqe, sqhd) == 8);
static_assert(offsetof(Cqe, sqid) == 10);
static_assert(offsetof(Cqe, cid) == 12);
static_assert(offsetof(Cqe, status) == 14);

}  // namespace nvmf::nvme
