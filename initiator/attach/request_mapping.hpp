// A ublk request (its descriptor) as a block-API command: which NVMe command, which blocks, with FUA or not; and
// the result the driver expects back. Pure functions, unit-tested without a kernel.
#pragma once
#include <cstdint>

#include "initiator/attach/ublk_uapi.hpp"
#include "nvme/status.hpp"

namespace nvmf::initiator::ublk {

struct BlockRequest {
  enum class Kind { read, write, flush, discard, write_zeroes, invalid };
  Kind kind = Kind::invalid;
  std::uint64_t slba = 0;
  std::uint32_t nlb = 0;
  bool fua = false;         ///< Write with Force Unit Access (REQ_FUA)
  std::uint32_t bytes = 0;  ///< Data moved (read/write): what a successful COMMIT reports
};

/// Decode `desc` for a namespace of `block_size`-byte blocks. Kind::invalid when the operation is one the device
/// does not advertise (WRITE_SAME, zoned ops) or the range is not whole blocks.
BlockRequest map_request(const IoDesc& desc, std::uint32_t block_size);

/// The COMMIT result for a finished command: the bytes transferred on success, else a negative errno chosen as
/// the Linux NVMe host maps statuses (nvme_error_status): -ENOSPC for capacity exceeded, -ENOLINK for a path or
/// host-aborted failure, -EIO otherwise.
std::int32_t commit_result(const BlockRequest& request, nvme::Status status);

}  // namespace nvmf::initiator::ublk
