#include "fabric/command_direction.hpp"

#include <cstddef>

#include "nvme/fabrics.hpp"

namespace nvmf::fabric {

CommandDirection command_direction(const nvme::Sqe& sqe) {
  const std::uint8_t code = sqe.opcode == nvme::kFabricsOpcode ? sqe.bytes()[offsetof(nvme::FabricsCommand, fctype)]
                                                               : sqe.opcode;
  switch (code & 3) {
    case 1: return {DataDirection::host_to_controller, false};
    case 2: return {DataDirection::controller_to_host, false};
    case 3: return {DataDirection::none, true};
    default: return {DataDirection::none, false};
  }
}

}  // namespace nvmf::fabric
