// Asymmetric Namespace Access (NVMe Base 2.0, 8.1): each namespace belongs to an ANA group (ANAGRPID in
// Identify Namespace, 1 unless configured), and each port (listener) has a state per group. The state decides
// what I/O through that port gets (an ANA path status instead of the command) and what the ANA log page (0Ch)
// tells the host; the Linux host's native multipath picks its path from it.
//
// Threading: the states are relaxed atomics read once per I/O command by the I/O queues (no lock, no
// allocation); they are written only by the control path (configuration at start-up, `target-ctl
// set-ana-state`), which also takes `mutex_` for the table of ports.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nvme/status.hpp"

namespace nvmf::target {

class NamespaceTable;

/// ANA states with their wire values (ANA Group Descriptor, byte 16).
enum class AnaState : std::uint8_t {
  optimized = NVME_ANA_STATE_OPTIMIZED,
  non_optimized = NVME_ANA_STATE_NONOPTIMIZED,
  inaccessible = NVME_ANA_STATE_INACCESSIBLE,
  persistent_loss = NVME_ANA_STATE_PERSISTENT_LOSS,
  change = NVME_ANA_STATE_CHANGE,
};

/// Group IDs run from 1 to this (ANAGRPMAX and NANAGRPID), as nvmet's NVMET_MAX_ANAGRPS.
inline constexpr std::uint32_t kMaxAnaGroups = 128;
/// The group of a namespace configured without one.
inline constexpr std::uint32_t kDefaultAnaGroup = 1;
/// ANATT in seconds: how long a group may stay in the change state (the Linux host waits 2 x ANATT, then resets).
inline constexpr std::uint8_t kAnaTransitionTime = 10;

/// "optimized", "non-optimized", "inaccessible", "persistent-loss", "change" (nvmet's and nvmetcli's spellings).
std::optional<AnaState> parse_ana_state(const std::string& text);
const char* ana_state_name(AnaState state);

/// What an I/O command through a path in `state` completes with: success (run it) for optimized and
/// non-optimized; otherwise the Path Related status (SCT 3h, NVMe Base 2.0 Path Related Status values):
/// 01h Asymmetric Access Persistent Loss, 02h Asymmetric Access Inaccessible, 03h Asymmetric Access Transition.
/// DNR stays clear: the host may retry the command on another path (the Linux host fails over only without DNR).
nvme::Status ana_io_status(AnaState state);

/// Bytes of the largest ANA log page this target can return: header, one descriptor per group and every NSID.
/// The Linux host reads exactly this much (from NANAGRPID and MNAN) and gives up ANA when it exceeds MDTS.
std::size_t ana_log_max_size();
/// Whether ANA is reported with this MDTS in bytes (ANA needs the whole log in one transfer).
bool ana_fits(std::uint32_t max_io_size);

/// One port's state for every group. Shared with the I/O queues of the controllers connected through it.
class PortAnaStates {
 public:
  PortAnaStates();
  /// `grpid` 1..kMaxAnaGroups; any other reads as optimized (no namespace carries it).
  AnaState state(std::uint32_t grpid) const {
    if (grpid == 0 || grpid > kMaxAnaGroups) return AnaState::optimized;
    return static_cast<AnaState>(states_[grpid - 1].load(std::memory_order_relaxed));
  }
  /// The log page change count when this group's state last changed (its descriptor's CHGCNT).
  std::uint64_t change_count(std::uint32_t grpid) const;
  /// Groups whose state was ever set on this port (listed in the log even without namespaces).
  std::vector<std::uint32_t> configured_groups() const;

 private:
  friend class AnaStates;
  std::array<std::atomic<std::uint8_t>, kMaxAnaGroups> states_;
  std::array<std::atomic<std::uint64_t>, kMaxAnaGroups> change_counts_{};
  std::array<std::atomic<bool>, kMaxAnaGroups> configured_{};
};

/// Every port's ANA states and the log page change count of the whole target.
class AnaStates {
 public:
  /// The states of `portid` (created all optimized on first use; never null).
  std::shared_ptr<const PortAnaStates> port(std::uint16_t portid);
  /// Sets a state; returns whether it changed. `grpid` must be 1..kMaxAnaGroups.
  bool set(std::uint16_t portid, std::uint32_t grpid, AnaState state);
  /// CHGCNT of the log page header: moves with every state change.
  std::uint64_t change_count() const { return change_count_.load(std::memory_order_relaxed); }
  /// Forget a removed port.
  void remove_port(std::uint16_t portid);

 private:
  std::shared_ptr<PortAnaStates> port_locked(std::uint16_t portid);

  mutable std::mutex mutex_;
  std::map<std::uint16_t, std::shared_ptr<PortAnaStates>> ports_;
  std::atomic<std::uint64_t> change_count_{0};
};

/// The ANA log page (0Ch) for a controller connected through a port with `states`, seeing `namespaces`: one
/// descriptor per group in use (group 1, the namespaces' groups and the groups configured on the port), in
/// ascending group order, each with its namespaces' NSIDs in ascending order unless `groups_only` (the RGO bit
/// of the Log Specific Field: NNSIDS 0 and no NSID list).
std::vector<std::uint8_t> build_ana_log(const PortAnaStates& states, std::uint64_t change_count,
                                        const NamespaceTable& namespaces, bool groups_only);

}  // namespace nvmf::target
