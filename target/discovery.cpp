#include "target/discovery.hpp"

#include <cstring>

#include "nvme/fabrics.hpp"
#include "nvme/libnvme.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

namespace {
static_assert(sizeof(nvmf_disc_log_entry) == 1024);
static_assert(offsetof(nvmf_disc_log_entry, trsvcid) == 32);
static_assert(offsetof(nvmf_disc_log_entry, subnqn) == 256);
static_assert(offsetof(nvmf_disc_log_entry, traddr) == 512);
static_assert(offsetof(nvmf_disc_log_entry, tsas) == 768);
constexpr std::size_t kHeaderSize = 1024;

void copy_field(char* dst, std::size_t size, const std::string& src) {
  std::memset(dst, 0, size);
  std::memcpy(dst, src.data(), std::min(size - 1, src.size()));
}

nvmf_disc_log_entry make_entry(const Port& port, const std::string& nqn, std::uint8_t subtype) {
  nvmf_disc_log_entry e;
  std::memset(&e, 0, sizeof e);
  e.trtype = static_cast<std::uint8_t>(port.address.trtype);
  e.adrfam = port.address.ipv6 ? NVMF_ADDR_FAMILY_IP6 : NVMF_ADDR_FAMILY_IP4;
  e.subtype = subtype;
  // Secure channel not specified, SQ flow control disable supported: what nvmet's ports advertise.
  e.treq = NVMF_TREQ_DISABLE_SQFLOW;
  e.portid = port.portid;
  e.cntlid = nvme::kDynamicCntlid;
  e.asqsz = Controller::kAdminQueueEntries;
  e.eflags = 0;
  copy_field(e.trsvcid, sizeof e.trsvcid, port.address.trsvcid);
  copy_field(e.subnqn, sizeof e.subnqn, nqn);
  copy_field(e.traddr, sizeof e.traddr, port.address.traddr);
  if (port.address.trtype == fabric::TransportType::tcp) {
    // TREQ bits 1:0 and TSAS SECTYPE as nvmet's addr_treq/addr_tsas (NVMe TCP Transport 7.4.1, TP 8011).
    e.tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
    if (port.address.tls != fabric::TlsPolicy::none) {
      e.tsas.tcp.sectype = NVMF_TCP_SECTYPE_TLS13;
      e.treq |= port.address.tls == fabric::TlsPolicy::required ? NVMF_TREQ_REQUIRED : NVMF_TREQ_NOT_REQUIRED;
    }
  } else {
    // As nvmet's RDMA ports: reliable connected QPs, no provider specified (01h), rdma_cm connections.
    e.tsas.rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
    e.tsas.rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
    e.tsas.rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
  }
  return e;
}
}  // namespace

std::vector<std::uint8_t> build_discovery_log(const DiscoverySnapshot& snapshot, const std::string& host_nqn) {
  std::vector<nvmf_disc_log_entry> entries;
  for (const Port& port : snapshot.ports) {
    // NVMe-oF has no transport type for libfabric: an ofi port cannot be named to other hosts.
    if (port.address.trtype == fabric::TransportType::ofi) continue;
    for (const auto& subsystem : snapshot.subsystems)
      if (port.serves(subsystem->nqn()) && subsystem->host_allowed(host_nqn))
        entries.push_back(make_entry(port, subsystem->nqn(), NVME_NQN_NVME));
    entries.push_back(make_entry(port, nvme::kDiscoveryNqn, NVME_NQN_CURR));
  }
  // Referrals: other discovery services, SUBTYPE 1 with the discovery NQN (nvmet's referral entries).
  for (const Referral& referral : snapshot.referrals) {
    Port as_port{referral.portid, referral.address, false, {}};
    nvmf_disc_log_entry e = make_entry(as_port, nvme::kDiscoveryNqn, NVME_NQN_DISC);
    e.treq = NVMF_TREQ_NOT_SPECIFIED;  // what the referred port requires is not known here
    entries.push_back(e);
  }
  std::vector<std::uint8_t> page(kHeaderSize + entries.size() * sizeof(nvmf_disc_log_entry), 0);
  nvmf_discovery_log header;
  std::memset(&header, 0, sizeof header);
  header.genctr = snapshot.generation;
  header.numrec = entries.size();
  header.recfmt = 0;
  static_assert(sizeof(nvmf_discovery_log) == kHeaderSize);
  std::memcpy(page.data(), &header, sizeof header);
  if (!entries.empty()) std::memcpy(page.data() + kHeaderSize, entries.data(), entries.size() * sizeof entries[0]);
  return page;
}

}  // namespace nvmf::target
