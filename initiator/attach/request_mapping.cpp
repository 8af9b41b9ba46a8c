#include "initiator/attach/request_mapping.hpp"

#include <cerrno>

namespace nvmf::initiator::ublk {

BlockRequest map_request(const IoDesc& desc, std::uint32_t block_size) {
  BlockRequest r;
  const std::uint32_t flags = desc.op_flags & ~0xffu;
  switch (desc.op()) {
    case kOpRead: r.kind = BlockRequest::Kind::read; break;
    case kOpWrite: r.kind = BlockRequest::Kind::write; break;
    case kOpFlush: r.kind = BlockRequest::Kind::flush; return r;
    case kOpDiscard: r.kind = BlockRequest::Kind::discard; break;
    case kOpWriteZeroes: r.kind = BlockRequest::Kind::write_zeroes; break;
    default: return r;  // WRITE_SAME and the zoned operations are never advertised
  }
  // The driver counts in 512-byte sectors; with logical_bs_shift set it only sends whole logical blocks, but a
  // request that is not is refused rather than rounded.
  const std::uint64_t start = desc.start_sector * 512;
  const std::uint64_t length = std::uint64_t(desc.nr_sectors) * 512;
  if (block_size == 0 || start % block_size || length % block_size || length == 0) {
    r.kind = BlockRequest::Kind::invalid;
    return r;
  }
  r.slba = start / block_size;
  r.nlb = static_cast<std::uint32_t>(length / block_size);
  if (r.kind == BlockRequest::Kind::read || r.kind == BlockRequest::Kind::write) {
    r.bytes = static_cast<std::uint32_t>(length);
    r.fua = r.kind == BlockRequest::Kind::write && (flags & kIoFlagFua);
  }
  return r;
}

std::int32_t commit_result(const BlockRequest& request, nvme::Status status) {
  if (status.ok()) return static_cast<std::int32_t>(request.bytes);
  if (status.sct() == NVME_SCT_GENERIC && status.sc() == NVME_SC_CAP_EXCEEDED) return -ENOSPC;
  if (status.sct() == NVME_SCT_PATH) return -ENOLINK;
  if (status.sct() == NVME_SCT_GENERIC && (status.sc() == NVME_SC_INVALID_OPCODE || status.sc() == NVME_SC_INVALID_FIELD))
    return -EOPNOTSUPP;
  return -EIO;
}

}  // namespace nvmf::initiator::ublk
