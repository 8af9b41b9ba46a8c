// NVMe/RDMA capsules (NVMe/RDMA transport spec 3.2, NVMe base spec 4.4): a command capsule is the SQE followed by
// any in-capsule data (SGL Data Block, subtype Offset); a response capsule is the CQE alone. Bulk data is
// described by one Keyed Data Block SGL that the controller reads or writes with RDMA. Pure functions shared by
// the controller queue (parse) and the host queue (build); no verbs here.
#pragma once
#include <cstdint>

#include "fabric/transport.hpp"
#include "nvme/sqe.hpp"
#include "nvme/status.hpp"

namespace nvmf::fabric::rdma {

inline constexpr std::uint32_t kCommandCapsuleHeader = sizeof(nvme::Sqe);  ///< ICDOFF is 0: data follows the SQE
inline constexpr std::uint32_t kResponseCapsuleSize = sizeof(nvme::Cqe);
inline constexpr std::uint32_t kMaxKeyedLength = 0xFFFFFF;  ///< Keyed SGL lengths are 24 bits
/// Host side: room for in-capsule data in each of a queue's command capsule buffers. Writes up to the
/// controller's IOCCSZ share go in-capsule, but never more than this.
inline constexpr std::uint32_t kHostMaxInCapsule = 8192;
constexpr std::uint32_t host_in_capsule_limit(std::uint32_t controller_limit) {
  return controller_limit < kHostMaxInCapsule ? controller_limit : kHostMaxInCapsule;
}

enum class DataLocation : std::uint8_t { none, in_capsule, keyed };

/// How a received command's data travels, as the controller sees it.
struct CapsuleData {
  nvme::Status status;  ///< Not success: answer the command with it, the handler never sees it
  DataDirection direction = DataDirection::none;
  DataLocation location = DataLocation::none;
  std::uint32_t length = 0;
  std::uint32_t in_capsule_offset = 0;  ///< Offset of the data after the SQE (location in_capsule)
  std::uint64_t remote_address = 0;     ///< Host memory (location keyed)
  std::uint32_t remote_key = 0;
  bool invalidate_key = false;          ///< Answer with SEND with Invalidate of remote_key
};

/// Parse the SGL of a command capsule of `received_bytes` bytes (SQE included). `in_capsule_limit` is the
/// in-capsule data size the queue advertises, `max_transfer` the largest data transfer (MDTS).
CapsuleData parse_command_capsule(const nvme::Sqe& sqe, std::uint32_t received_bytes, std::uint32_t in_capsule_limit,
                                  std::uint32_t max_transfer);

/// Host side: fill the SQE's data pointer (and set PSDT to SGL).
void set_null_sgl(nvme::Sqe& sqe);
void set_in_capsule_sgl(nvme::Sqe& sqe, std::uint32_t length);
void set_keyed_sgl(nvme::Sqe& sqe, std::uint64_t address, std::uint32_t length, std::uint32_t key, bool invalidate);

}  // namespace nvmf::fabric::rdma
