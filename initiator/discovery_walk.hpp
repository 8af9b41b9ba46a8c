// Discovery across referrals, and attaching what it finds (nvme-cli's connect-all, list-subsys). A discovery
// log may hold referral entries (SUBTYPE 1, NVME_NQN_DISC): other discovery controllers whose logs list more
// subsystems. The walk reads the first log, then every referral it has not read yet, breadth first, up to a
// depth, collecting the entries of all of them (duplicates removed). An unreachable referral is reported, not
// fatal: the Linux host's connect-all goes on with the rest too.
#pragma once
#include <string>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/discovery.hpp"

namespace nvmf::initiator {

struct DiscoveryWalk {
  /// Every entry of every log read: NVM subsystems, referrals and current-discovery entries, each once
  /// (identity: trtype, traddr, trsvcid, subnqn).
  std::vector<DiscoveryEntry> entries;
  /// "tcp:127.0.0.1:8009": the discovery controllers whose logs were read, in order.
  std::vector<std::string> visited;
  /// Referrals that could not be read, with the reason.
  std::vector<std::string> errors;

  /// The NVM subsystem entries (SUBTYPE 2).
  std::vector<DiscoveryEntry> subsystems() const;
};

/// Start at the discovery controller `options` names; `max_depth` levels of referrals are followed (0: none).
/// Fails only when the first discovery controller cannot be read.
Error walk_discovery(const ControllerOptions& options, DiscoveryWalk* out, unsigned max_depth = 4);

/// The transport name of a TRTYPE ("tcp", "rdma"); empty for those this host has no name for.
std::string transport_name(std::uint8_t trtype);

/// What attaching one NVM subsystem entry gave.
struct AttachReport {
  DiscoveryEntry entry;
  Error error;                       ///< Set when the attach failed (then the fields below are empty)
  std::uint16_t cntlid = 0;
  std::string model;
  std::string serial;
  std::uint16_t io_queues = 0;
  std::vector<Namespace> namespaces;
};

/// Attach every NVM subsystem entry: connect (host identity and timeouts from `base`, address and NQN from the
/// entry), create one I/O queue to prove the I/O path, identify, record the namespaces, then disconnect
/// (orderly shutdown). Entries of transports this build lacks are reported as errors.
std::vector<AttachReport> attach_all(const std::vector<DiscoveryEntry>& entries, const ControllerOptions& base);

}  // namespace nvmf::initiator
