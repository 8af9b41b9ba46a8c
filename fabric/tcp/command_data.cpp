#include "fabric/tcp/command_data.hpp"

#include "fabric/command_direction.hpp"

namespace nvmf::fabric::tcp {

namespace {
nvme::Status generic(std::uint8_t sc) { return nvme::Status::generic(sc); }
}  // namespace

CommandData parse_command_data(const nvme::Sqe& sqe, std::uint32_t in_capsule_bytes, std::uint32_t max_io_size) {
  CommandData out;
  const CommandDirection dir = command_direction(sqe);
  out.direction = dir.direction;
  // Fabrics hosts describe data with SGLs only (NVMe-oF 2.x: PSDT 01b); nvmet rejects anything else the same way.
  if ((sqe.flags & nvme::kPsdtMask) != nvme::kPsdtSgl) {
    out.status = generic(NVME_SC_INVALID_FIELD);
    return out;
  }
  if (dir.bidirectional) {  // no NVMe/TCP data transfer moves both ways in one command
    out.status = generic(NVME_SC_INVALID_FIELD);
    return out;
  }
  if (out.direction == DataDirection::none) return out;  // whatever the SGL says, nothing moves

  const nvme::SglDescriptor& sgl = sqe.dptr;
  const std::uint32_t length = sgl.length;
  const auto type = sgl.type();
  const auto subtype = sgl.subtype();
  if (type == nvme::SglType::data_block && subtype == nvme::SglSubtype::offset) {
    // In-capsule data only carries host-to-controller data (spec 7.3.2), at offset 0 since ICDOFF is 0.
    if (out.direction != DataDirection::host_to_controller) {
      out.status = generic(NVME_SC_INVALID_FIELD);
    } else if (sgl.address != 0) {
      out.status = generic(NVME_SC_SGL_INVALID_OFFSET);
    } else if (length > in_capsule_bytes) {
      out.status = generic(NVME_SC_SGL_INVALID_DATA);
    } else {
      out.length = length;
      out.in_capsule = true;
    }
    return out;
  }
  if (type == nvme::SglType::transport_data_block && subtype == nvme::SglSubtype::transport_specific) {
    if (in_capsule_bytes > 0) {  // data arrived but the SGL does not describe it
      out.status = generic(NVME_SC_SGL_INVALID_TYPE);
    } else if (length > max_io_size) {
      out.status = generic(NVME_SC_SGL_INVALID_DATA);
    } else {
      out.length = length;
    }
    return out;
  }
  out.status = generic(NVME_SC_SGL_INVALID_TYPE);
  return out;
}

}  // namespace nvmf::fabric::tcp
