// Where a received command's data is and which way it flows, from the SQE alone (NVMe/TCP spec 3.6.2.6 and
// 7.3: one SGL descriptor, Data Block/Offset for in-capsule data, Transport Data Block/Transport-specific for
// data moved by R2T/H2CData or C2HData). Pure; the controller queue answers a non-success status itself.
#pragma once
#include <cstdint>

#include "fabric/transport.hpp"
#include "nvme/sqe.hpp"
#include "nvme/status.hpp"

namespace nvmf::fabric::tcp {

struct CommandData {
  DataDirection direction = DataDirection::none;
  std::uint32_t length = 0;  ///< Bytes the SGL describes (0 when the command moves no data)
  bool in_capsule = false;   ///< The data came with the CapsuleCmd
  nvme::Status status;       ///< Not success: complete the command with it, without the handler
};

/// Direction from fabric::command_direction. `in_capsule_bytes`: data bytes the CapsuleCmd carried;
/// `max_io_size`: largest transfer accepted.
CommandData parse_command_data(const nvme::Sqe& sqe, std::uint32_t in_capsule_bytes, std::uint32_t max_io_size);

}  // namespace nvmf::fabric::tcp
