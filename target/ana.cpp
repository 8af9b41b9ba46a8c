#include "target/ana.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "target/config.hpp"
#include "target/namespace.hpp"

namespace nvmf::target {

namespace {
// The wire layouts are libnvme's; check the offsets this file relies on (NVMe Base 2.0, Asymmetric Namespace
// Access log page).
static_assert(sizeof(nvme_ana_log) == 16);
static_assert(offsetof(nvme_ana_log, chgcnt) == 0);
static_assert(offsetof(nvme_ana_log, ngrps) == 8);
static_assert(sizeof(nvme_ana_group_desc) == 32);
static_assert(offsetof(nvme_ana_group_desc, grpid) == 0);
static_assert(offsetof(nvme_ana_group_desc, nnsids) == 4);
static_assert(offsetof(nvme_ana_group_desc, chgcnt) == 8);
static_assert(offsetof(nvme_ana_group_desc, state) == 16);

struct StateName {
  AnaState state;
  const char* name;
};
constexpr StateName kStateNames[] = {
    {AnaState::optimized, "optimized"},
    {AnaState::non_optimized, "non-optimized"},
    {AnaState::inaccessible, "inaccessible"},
    {AnaState::persistent_loss, "persistent-loss"},
    {AnaState::change, "change"},
};
}  // namespace

std::optional<AnaState> parse_ana_state(const std::string& text) {
  for (const auto& s : kStateNames)
    if (text == s.name) return s.state;
  return std::nullopt;
}

const char* ana_state_name(AnaState state) {
  for (const auto& s : kStateNames)
    if (state == s.state) return s.name;
  return "unknown";
}

nvme::Status ana_io_status(AnaState state) {
  switch (state) {
    case AnaState::optimized:
    case AnaState::non_optimized:
      return nvme::Status::success();
    case AnaState::inaccessible:
      return nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE);
    case AnaState::persistent_loss:
      return nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS);
    case AnaState::change:
      return nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION);
  }
  return nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_INTERNAL_PATH_ERROR);
}

std::size_t ana_log_max_size() {
  return sizeof(nvme_ana_log) + kMaxAnaGroups * sizeof(nvme_ana_group_desc) + kMaxNsid * sizeof(std::uint32_t);
}

bool ana_fits(std::uint32_t max_io_size) { return ana_log_max_size() <= max_io_size; }

PortAnaStates::PortAnaStates() {
  for (auto& s : states_) s.store(static_cast<std::uint8_t>(AnaState::optimized), std::memory_order_relaxed);
}

std::uint64_t PortAnaStates::change_count(std::uint32_t grpid) const {
  if (grpid == 0 || grpid > kMaxAnaGroups) return 0;
  return change_counts_[grpid - 1].load(std::memory_order_relaxed);
}

std::vector<std::uint32_t> PortAnaStates::configured_groups() const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t g = 1; g <= kMaxAnaGroups; ++g)
    if (configured_[g - 1].load(std::memory_order_relaxed)) out.push_back(g);
  return out;
}

std::shared_ptr<PortAnaStates> AnaStates::port_locked(std::uint16_t portid) {
  auto& slot = ports_[portid];
  if (!slot) slot = std::make_shared<PortAnaStates>();
  return slot;
}

std::shared_ptr<const PortAnaStates> AnaStates::port(std::uint16_t portid) {
  std::lock_guard lock(mutex_);
  return port_locked(portid);
}

bool AnaStates::set(std::uint16_t portid, std::uint32_t grpid, AnaState state) {
  if (grpid == 0 || grpid > kMaxAnaGroups) return false;
  std::lock_guard lock(mutex_);
  auto p = port_locked(portid);
  p->configured_[grpid - 1].store(true, std::memory_order_relaxed);
  const auto old = p->states_[grpid - 1].exchange(static_cast<std::uint8_t>(state), std::memory_order_relaxed);
  if (old == static_cast<std::uint8_t>(state)) return false;
  const std::uint64_t count = change_count_.fetch_add(1, std::memory_order_relaxed) + 1;
  p->change_counts_[grpid - 1].store(count, std::memory_order_relaxed);
  return true;
}

void AnaStates::remove_port(std::uint16_t portid) {
  std::lock_guard lock(mutex_);
  ports_.erase(portid);
}

std::vector<std::uint8_t> build_ana_log(const PortAnaStates& states, std::uint64_t change_count,
                                        const NamespaceTable& namespaces, bool groups_only) {
  std::set<std::uint32_t> groups{kDefaultAnaGroup};
  for (const auto& ns : namespaces.all()) groups.insert(ns->anagrpid);
  for (std::uint32_t g : states.configured_groups()) groups.insert(g);

  std::vector<std::uint8_t> out(sizeof(nvme_ana_log));
  nvme_ana_log header;
  std::memset(&header, 0, sizeof header);
  header.chgcnt = change_count;
  header.ngrps = static_cast<std::uint16_t>(groups.size());
  std::memcpy(out.data(), &header, sizeof header);
  for (std::uint32_t grpid : groups) {
    // namespaces.all() is sorted by NSID, so each group's list comes out ascending as the Linux host expects.
    std::vector<std::uint32_t> nsids;
    if (!groups_only)
      for (const auto& ns : namespaces.all())
        if (ns->anagrpid == grpid) nsids.push_back(ns->nsid);
    nvme_ana_group_desc desc;
    std::memset(&desc, 0, sizeof desc);
    desc.grpid = grpid;
    desc.nnsids = static_cast<std::uint32_t>(nsids.size());
    desc.chgcnt = states.change_count(grpid);
    desc.state = static_cast<std::uint8_t>(states.state(grpid));
    const std::size_t at = out.size();
    out.resize(at + sizeof desc + nsids.size() * sizeof(std::uint32_t));
    std::memcpy(out.data() + at, &desc, sizeof desc);
    if (!nsids.empty()) std::memcpy(out.data() + at + sizeof desc, nsids.data(), nsids.size() * sizeof(std::uint32_t));
  }
  return out;
}

}  // namespace nvmf::target
