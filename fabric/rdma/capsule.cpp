#include "fabric/rdma/capsule.hpp"

#include <cstring>

#include "fabric/command_direction.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::fabric::rdma {

using nvme::SglSubtype;
using nvme::SglType;
using nvme::Status;

namespace {
CapsuleData failed(Status status) {
  CapsuleData d;
  d.status = status;
  return d;
}
}  // namespace

CapsuleData parse_command_capsule(const nvme::Sqe& sqe, std::uint32_t received_bytes, std::uint32_t in_capsule_limit,
                                  std::uint32_t max_transfer) {
  // Fabrics commands always use SGLs (NVMe-oF spec 2.2); the Linux target answers anything else this way.
  if ((sqe.flags & nvme::kPsdtMask) != nvme::kPsdtSgl) return failed(Status::generic(NVME_SC_INVALID_FIELD));
  const CommandDirection dir = command_direction(sqe);
  if (dir.bidirectional) return failed(Status::generic(NVME_SC_INVALID_FIELD));

  if (received_bytes < kCommandCapsuleHeader) return failed(Status::generic(NVME_SC_INVALID_FIELD));
  CapsuleData d;
  d.direction = dir.direction;
  const auto& sgl = sqe.dptr;
  switch (sgl.type()) {
    case SglType::data_block: {
      if (sgl.subtype() != SglSubtype::offset) return failed(Status::generic(NVME_SC_INVALID_FIELD));
      // In-capsule data only carries host-to-controller data (NVMe/RDMA spec 3.2.1).
      if (dir.direction != DataDirection::host_to_controller && sgl.length != 0)
        return failed(Status::generic(NVME_SC_INVALID_FIELD));
      const std::uint64_t end = sgl.address + std::uint64_t(sgl.length);
      if (sgl.address > in_capsule_limit || end > in_capsule_limit)
        return failed(Status::generic(NVME_SC_SGL_INVALID_OFFSET));
      if (end > received_bytes - kCommandCapsuleHeader) return failed(Status::generic(NVME_SC_SGL_INVALID_DATA));
      d.location = sgl.length ? DataLocation::in_capsule : DataLocation::none;
      d.length = sgl.length;
      d.in_capsule_offset = static_cast<std::uint32_t>(sgl.address);
      break;
    }
    case SglType::keyed_data_block: {
      nvme::KeyedSglDescriptor keyed;
      std::memcpy(&keyed, &sgl, sizeof keyed);
      const auto subtype = static_cast<SglSubtype>(keyed.id & 0xF);
      if (subtype != SglSubtype::address && subtype != SglSubtype::invalidate_key)
        return failed(Status::generic(NVME_SC_INVALID_FIELD));
      d.length = keyed.get_length();
      d.remote_address = keyed.address;
      d.remote_key = keyed.get_key();
      d.invalidate_key = subtype == SglSubtype::invalidate_key;
      if (d.length > max_transfer) return failed(Status::generic(NVME_SC_SGL_INVALID_DATA));
      if (d.length && dir.direction == DataDirection::none) return failed(Status::generic(NVME_SC_INVALID_FIELD));
      d.location = d.length ? DataLocation::keyed : DataLocation::none;
      break;
    }
    default:
      return failed(Status::generic(NVME_SC_SGL_INVALID_TYPE));
  }
  if (d.length == 0) d.direction = DataDirection::none;
  return d;
}

void set_null_sgl(nvme::Sqe& sqe) {
  // The Linux host's form for "no data": a keyed descriptor with address, length and key all zero.
  set_keyed_sgl(sqe, 0, 0, 0, false);
}

void set_in_capsule_sgl(nvme::Sqe& sqe, std::uint32_t length) {
  sqe.flags = static_cast<std::uint8_t>((sqe.flags & ~nvme::kPsdtMask) | nvme::kPsdtSgl);
  std::memset(&sqe.dptr, 0, sizeof sqe.dptr);
  sqe.dptr.address = 0;  // ICDOFF 0: the data starts right after the SQE
  sqe.dptr.length = length;
  sqe.dptr.id = nvme::SglDescriptor::make_id(SglType::data_block, SglSubtype::offset);
}

void set_keyed_sgl(nvme::Sqe& sqe, std::uint64_t address, std::uint32_t length, std::uint32_t key, bool invalidate) {
  sqe.flags = static_cast<std::uint8_t>((sqe.flags & ~nvme::kPsdtMask) | nvme::kPsdtSgl);
  nvme::KeyedSglDescriptor keyed{};
  keyed.address = address;
  keyed.set_length(length);
  keyed.set_key(key);
  keyed.id = nvme::SglDescriptor::make_id(SglType::keyed_data_block,
                                          invalidate ? SglSubtype::invalidate_key : SglSubtype::address);
  std::memcpy(&sqe.dptr, &keyed, sizeof keyed);
}

}  // namespace nvmf::fabric::rdma
