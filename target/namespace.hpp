// A namespace: an NSID, a logical block size and a backend, plus the identifiers a host uses to recognise the
// same namespace through several controllers (NGUID, EUI-64, UUID). The table of a subsystem's namespaces is
// immutable once built: I/O queues hold a shared_ptr to a snapshot, so the per-I/O lookup takes no lock.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "target/backends/backend.hpp"
#include "target/lba_range_lock.hpp"
#include "target/reservations.hpp"

namespace nvmf::target {

struct NamespaceIds {
  std::array<std::uint8_t, 16> nguid{};
  std::array<std::uint8_t, 8> eui64{};
  std::array<std::uint8_t, 16> uuid{};
};

/// Stable identifiers derived from the subsystem NQN and the NSID (FNV-1a hashes), so a namespace keeps its
/// identity across restarts without configuration: the host's multipath code matches paths on them.
/// EUI-64 is marked locally administered (we own no IEEE OUI); UUID is an RFC 4122 version 8 (custom) UUID.
NamespaceIds derive_namespace_ids(const std::string& subsystem_nqn, std::uint32_t nsid);

struct Namespace {
  std::uint32_t nsid = 0;
  std::uint32_t block_size = 512;
  std::uint8_t lba_shift = 9;  ///< log2(block_size)
  std::uint64_t blocks = 0;
  std::shared_ptr<Backend> backend;
  NamespaceIds ids;
  std::vector<std::string> hosts;  ///< Host NQNs that see it; empty: every host of the subsystem
  std::uint32_t anagrpid = 1;      ///< ANA group (Identify Namespace ANAGRPID; target/ana.hpp)
  /// Shared by every copy of the namespace (a resize keeps the registrations and the reservation).
  std::shared_ptr<NamespaceReservations> reservations = std::make_shared<NamespaceReservations>();
  /// Shared likewise: the LBA range locks of fused Compare and Write (lba_range_lock.hpp).
  std::shared_ptr<LbaRangeLock> range_lock = std::make_shared<LbaRangeLock>();

  bool visible_to(const std::string& host_nqn) const;
};

class NamespaceTable {
 public:
  NamespaceTable() = default;
  /// Sorts by NSID; throws std::invalid_argument on a duplicate NSID or NSID 0.
  explicit NamespaceTable(std::vector<std::shared_ptr<const Namespace>> namespaces);

  const Namespace* find(std::uint32_t nsid) const;
  /// Position of `nsid` in all(), or -1.
  std::ptrdiff_t index_of(std::uint32_t nsid) const;
  const std::vector<std::shared_ptr<const Namespace>>& all() const { return namespaces_; }
  std::uint32_t max_nsid() const { return namespaces_.empty() ? 0 : namespaces_.back()->nsid; }
  /// The namespaces `host_nqn` may see (the same Namespace objects).
  std::shared_ptr<const NamespaceTable> visible_to(const std::string& host_nqn) const;
  /// A copy with `ns` added (throws std::invalid_argument when its NSID is taken) or NSID `nsid` removed.
  std::shared_ptr<const NamespaceTable> with(std::shared_ptr<const Namespace> ns) const;
  std::shared_ptr<const NamespaceTable> without(std::uint32_t nsid) const;

 private:
  std::vector<std::shared_ptr<const Namespace>> namespaces_;
};

}  // namespace nvmf::target
