#include "initiator/multipath_policy.hpp"

#include "nvme/libnvme.hpp"

namespace nvmf::initiator {

std::optional<PathPolicy> parse_path_policy(std::string_view text) {
  if (text == "round-robin") return PathPolicy::round_robin;
  if (text == "least-queued") return PathPolicy::least_queued;
  return std::nullopt;
}

const char* to_string(PathPolicy policy) {
  return policy == PathPolicy::least_queued ? "least-queued" : "round-robin";
}

int ana_rank(std::uint8_t state) {
  switch (state) {
    case NVME_ANA_STATE_OPTIMIZED: return 2;
    case NVME_ANA_STATE_NONOPTIMIZED: return 1;
    default: return 0;
  }
}

bool retry_on_other_path(nvme::Status status) {
  if (status.ok() || status.sct() != NVME_SCT_PATH) return false;
  if (status.sc() == NVME_SC_HOST_PATH_ERROR || status.sc() == NVME_SC_CMD_ABORTED_BY_HOST) return true;
  return !status.dnr();
}

std::size_t PathChooser::choose(std::span<const PathCandidate> paths) {
  const std::size_t n = paths.size();
  std::size_t best = n;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    const PathCandidate& p = paths[i];
    if (p.rank <= 0) continue;
    // Strictly better only: among equals the first met from next_ wins, which is the round-robin turn.
    if (best == n || p.rank > paths[best].rank ||
        (policy_ == PathPolicy::least_queued && p.rank == paths[best].rank &&
         p.outstanding < paths[best].outstanding))
      best = i;
  }
  if (best < n) next_ = best + 1;
  return best;
}

}  // namespace nvmf::initiator
