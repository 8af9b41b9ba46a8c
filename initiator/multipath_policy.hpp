// Path choice for a multipath set, with no I/O in it so it can be tested on its own: how good a path is by its
// ANA state, which statuses send a command to another path, and the chooser (round-robin or least-queued among
// the paths of the best ANA rank), as the Linux host's iopolicy round-robin and queue-depth.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "nvme/status.hpp"

namespace nvmf::initiator {

enum class PathPolicy {
  round_robin,   ///< The next path of the best ANA rank after the one used last
  least_queued,  ///< The path of the best ANA rank with the fewest commands outstanding; ties round-robin
};

/// "round-robin" or "least-queued"; nullopt otherwise.
std::optional<PathPolicy> parse_path_policy(std::string_view text);
const char* to_string(PathPolicy policy);

/// How good a path in ANA state `state` (NVME_ANA_STATE_*) is: 2 optimized, 1 non-optimized, 0 never used
/// (NVMe Base 2.0, Asymmetric Namespace Access: only optimized and non-optimized paths process I/O).
int ana_rank(std::uint8_t state);

/// True when a command that completed with `status` may be sent again on another path: a path-related status
/// (SCT 3h: ANA states, host path error, aborted by host). DNR stops it, except on the statuses the host made
/// itself for a path it lost (host path error, aborted by host): those say nothing about the command.
bool retry_on_other_path(nvme::Status status);

/// One path as the chooser sees it.
struct PathCandidate {
  int rank = 0;                  ///< ana_rank() of the namespace through the path; 0 when not usable now
  std::uint32_t outstanding = 0; ///< Commands sent through the path and not completed
};

class PathChooser {
 public:
  explicit PathChooser(PathPolicy policy = PathPolicy::round_robin) : policy_(policy) {}
  PathPolicy policy() const { return policy_; }
  /// The index of the path to use, or paths.size() when none has a rank above 0. Scans from the path after
  /// the one chosen last, so equals take turns.
  std::size_t choose(std::span<const PathCandidate> paths);

 private:
  PathPolicy policy_;
  std::size_t next_ = 0;
};

}  // namespace nvmf::initiator
