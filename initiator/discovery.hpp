// Discovery client: read the discovery log page (LID 70h) from a discovery controller and parse its entries
// (libnvme's struct nvmf_disc_log_entry). The read follows the Linux host: the 1024-byte header first for
// NUMREC, then header and records together; a GENCTR that moved in between means the log changed under us,
// so it is read again.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/error.hpp"

namespace nvmf::initiator {

struct DiscoveryEntry {
  std::uint8_t trtype = 0;   ///< NVMF_TRTYPE_* (3 tcp, 1 rdma)
  std::uint8_t adrfam = 0;   ///< NVMF_ADDR_FAMILY_* (1 ipv4, 2 ipv6)
  std::uint8_t subtype = 0;  ///< NVME_NQN_* (1 referral, 2 nvme, 3 current discovery)
  std::uint8_t treq = 0;
  std::uint16_t portid = 0;
  std::uint16_t cntlid = 0;
  std::uint16_t asqsz = 0;
  std::uint16_t eflags = 0;
  std::string trsvcid;
  std::string subnqn;
  std::string traddr;
  std::uint8_t sectype = 0;  ///< TSAS for TCP: security type
};

struct DiscoveryLog {
  std::uint64_t genctr = 0;
  std::uint16_t recfmt = 0;
  std::vector<DiscoveryEntry> entries;
};

/// Parse a whole log (header and NUMREC entries). False and *why when the buffer is shorter than NUMREC says.
bool parse_discovery_log(const void* data, std::size_t length, DiscoveryLog* out, std::string* why);

/// Read the log from a connected discovery controller, retrying (up to `attempts`) while GENCTR changes.
Error read_discovery_log(Controller& ctrl, DiscoveryLog* out, int attempts = 10);

/// Connect to the discovery controller `options` name (subnqn defaults to the well-known discovery NQN, port
/// to 8009; KATO as given: `nvmf discover` passes 0, like a one-shot `nvme discover`), read the log, shut the
/// controller down.
Error discover(ControllerOptions options, DiscoveryLog* out);

/// Text for the discovery log codes, from libnvme (nvmf_trtype_str...).
std::string trtype_string(std::uint8_t v);
std::string adrfam_string(std::uint8_t v);
std::string subtype_string(std::uint8_t v);
std::string treq_string(std::uint8_t v);
std::string eflags_string(std::uint16_t v);
std::string sectype_string(std::uint8_t v);

}  // namespace nvmf::initiator
