// Which way a command's data flows, from the SQE alone: the opcode's bits 1:0, or for fabrics commands (opcode
// 7Fh) the fctype's bits 1:0 (NVMe base spec 6.x "Opcodes", NVMe-oF spec 6.1). One definition for every
// transport: the controller side needs it to parse the SGL, whatever carries the capsule.
#pragma once
#include "fabric/transport.hpp"
#include "nvme/sqe.hpp"

namespace nvmf::fabric {

struct CommandDirection {
  DataDirection direction = DataDirection::none;
  /// 11b: data both ways. No fabrics transport moves data both ways in one command; the transports refuse it.
  bool bidirectional = false;
};

CommandDirection command_direction(const nvme::Sqe& sqe);

}  // namespace nvmf::fabric
