// Identify (admin opcode 06h): controller, namespace, active namespace list, namespace identification
// descriptors and the NVM command set controller structure, as the Linux host reads them at connect time.
#include <algorithm>
#include <cstring>
#include <string>

#include "target/admin_queue.hpp"
#include "target/config.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

namespace {
constexpr std::size_t kIdentifySize = NVME_IDENTIFY_DATA_SIZE;
constexpr std::uint32_t kCnsMask = 0xFF;
constexpr std::uint8_t kNvmCsi = NVME_CSI_NVM;
constexpr std::uint32_t kMinPageSize = 4096;  // CAP.MPSMIN = 0

/// ASCII, space padded, not NUL terminated (Identify Controller SN/MN/FR).
void copy_padded(char* dst, std::size_t size, const std::string& src) {
  std::memset(dst, ' ', size);
  std::memcpy(dst, src.data(), std::min(size, src.size()));
}

std::uint8_t mdts_for(std::uint32_t max_io_size) {
  // MDTS is a power of two in units of the minimum page size; round down so we never promise too much.
  std::uint8_t mdts = 0;
  while ((std::uint64_t(kMinPageSize) << (mdts + 1)) <= max_io_size) ++mdts;
  return mdts;
}

/// ANA reporting as the Linux host requires it to use ANA (nvme_mpath_init_identify): CMIC bit 3, MNAN non-zero
/// and at most NN, and a log of header + NANAGRPID descriptors + MNAN NSIDs that fits MDTS (ana_fits).
void report_ana(nvme_id_ctrl& id) {
  id.cmic |= NVME_CTRL_CMIC_MULTI_ANA_REPORTING;
  id.anatt = kAnaTransitionTime;
  id.anacap = NVME_CTRL_ANACAP_OPT | NVME_CTRL_ANACAP_NON_OPT | NVME_CTRL_ANACAP_INACCESSIBLE |
              NVME_CTRL_ANACAP_PERSISTENT_LOSS | NVME_CTRL_ANACAP_CHANGE;
  id.anagrpmax = kMaxAnaGroups;
  id.nanagrpid = kMaxAnaGroups;
  id.mnan = kMaxNsid;  // NN is at least kMaxNsid
}

void build_identify_controller(const Controller& c, nvme_id_ctrl& id) {
  std::memset(&id, 0, sizeof id);
  const auto& subsystem = c.subsystem().identity();
  const bool discovery = c.is_discovery();
  // VID/SSVID/IEEE stay 0: this target owns no PCI vendor ID nor IEEE OUI.
  copy_padded(id.sn, sizeof id.sn, subsystem.serial);
  copy_padded(id.mn, sizeof id.mn, subsystem.model);
  copy_padded(id.fr, sizeof id.fr, subsystem.firmware);
  id.rab = 6;
  id.cmic = discovery ? 0 : NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL;
  id.mdts = mdts_for(c.limits().max_io_size);
  id.cntlid = c.cntlid();
  id.ver = Controller::kVersion;
  id.oaes = c.supported_async_events() & (NVME_CTRL_OAES_NA | NVME_CTRL_OAES_DL | NVME_CTRL_OAES_ANA);
  id.ctratt = NVME_CTRL_CTRATT_128_ID;  // the 128-bit host identifier of Connect (Get Features 81h)
  id.cntrltype = discovery ? NVME_CTRL_CNTRLTYPE_DISCOVERY : NVME_CTRL_CNTRLTYPE_IO;
  id.acl = Controller::kAbortLimit;
  id.aerl = Controller::kAerLimit;
  id.frmw = 1 << 1 | 1;  // one firmware slot, read-only
  id.lpa = discovery ? NVME_CTRL_LPA_EXTENDED : NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED;
  id.elpe = ErrorLog::kEntries - 1;
  id.kas = 10;  // Keep Alive granularity: 100 ms units -> 1 s
  id.sqes = 6 << 4 | 6;  // required and maximum SQ entry size: 64 bytes
  id.cqes = 4 << 4 | 4;  // 16 bytes
  id.maxcmd = static_cast<std::uint16_t>(c.mqes() + 1);
  if (!discovery) {
    // NN bounds every NSID that may appear later too (live changes), as nvmet reports NVMET_MAX_NAMESPACES.
    id.nn = std::max(kMaxNsid, c.namespaces()->max_nsid());
    id.oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES | NVME_CTRL_ONCS_TIMESTAMP;
    id.oncs |= NVME_CTRL_ONCS_RESERVATIONS;  // reservations.hpp; RESCAP per namespace
    // Fused Compare and Write (fused_commands.cpp), atomic through the namespaces' range locks; not on an NVMe
    // passthrough namespace, whose commands go to the drive one by one.
    const auto& all = c.namespaces()->all();
    if (std::none_of(all.begin(), all.end(), [](const auto& ns) { return ns->backend->forwards_commands(); }))
      id.fuses = NVME_CTRL_FUSES_COMPARE_AND_WRITE;
    // A volatile write cache the host controls with Set Features 06h; Flush with NSID FFFFFFFFh is not
    // supported (VWC bits 2:1 = 10b).
    id.vwc = NVME_CTRL_VWC_PRESENT | 2 << 1;
  }
  // SGLs without alignment constraint, offsets for in-capsule data, keyed descriptors where the transport uses
  // them (as nvmet on RDMA).
  id.sgls = 1u | NVME_CTRL_SGLS_OFFSET;
  if (fabric::uses_keyed_sgls(c.transport_type())) id.sgls |= NVME_CTRL_SGLS_KEYED;
  std::strncpy(id.subnqn, c.subsystem().nqn().c_str(), sizeof id.subnqn - 1);
  // Fabrics: capsule sizes in 16-byte units, command capsule = SQE + in-capsule data; response = CQE only.
  id.ioccsz = (c.limits().in_capsule_data_size + sizeof(nvme::Sqe)) / 16;
  id.iorcsz = sizeof(nvme::Cqe) / 16;
  id.icdoff = 0;
  id.fcatt = 0;  // dynamic controller model
  id.msdbd = 1;
  if (c.ana_reported()) report_ana(id);
}

/// An NVMe passthrough namespace reports the drive's own data (LBA formats, DLFEAT, optimal and atomic write
/// sizes, ...) under the exported namespace's identity: our NGUID/EUI-64, shared (NMIC), our ANA group, no NVM set
/// or endurance group of the drive's controller (this controller reports none of those).
void build_identify_drive_namespace(const Namespace& ns, const nvme_id_ns& drive, nvme_id_ns& id) {
  id = drive;
  id.nsze = ns.blocks;
  id.ncap = std::min<std::uint64_t>(drive.ncap, ns.blocks);
  id.nuse = std::min<std::uint64_t>(drive.nuse, ns.blocks);
  id.nmic = NVME_NS_NMIC_SHARED;
  id.rescap = 0;  // reservations are admin-side state this target does not forward
  id.anagrpid = ns.anagrpid;
  id.nvmsetid = 0;
  id.endgid = 0;
  std::memcpy(id.nguid, ns.ids.nguid.data(), sizeof id.nguid);
  std::memcpy(id.eui64, ns.ids.eui64.data(), sizeof id.eui64);
}

void build_identify_namespace(const Namespace& ns, nvme_id_ns& id) {
  if (const nvme_id_ns* drive = ns.backend->identify_namespace()) return build_identify_drive_namespace(ns, *drive, id);
  std::memset(&id, 0, sizeof id);
  id.nsze = id.ncap = id.nuse = ns.blocks;
  id.nlbaf = 0;  // one LBA format
  id.flbas = 0;
  id.lbaf[0].ds = ns.lba_shift;
  id.nmic = NVME_NS_NMIC_SHARED;  // reachable through several controllers
  id.dlfeat = ns.backend->deallocate_reads_zeroes() ? 1 : 0;  // deallocated blocks read as zeroes
  id.anagrpid = ns.anagrpid;
  // All six reservation types, IEKEY as NVMe 1.3 defines it; Persist Through Power Loss (bit 0) where the
  // namespace has a PTPL file.
  id.rescap = NVME_NS_RESCAP_WE | NVME_NS_RESCAP_EA | NVME_NS_RESCAP_WERO | NVME_NS_RESCAP_EARO |
              NVME_NS_RESCAP_WEAR | NVME_NS_RESCAP_EAAR | NVME_NS_RESCAP_IEK_13;
  if (ns.reservations->persistence_supported()) id.rescap |= NVME_NS_RESCAP_PTPL;
  std::memcpy(id.nguid, ns.ids.nguid.data(), sizeof id.nguid);
  std::memcpy(id.eui64, ns.ids.eui64.data(), sizeof id.eui64);
}

/// Namespace Identification Descriptor list (CNS 03h): EUI-64, NGUID, UUID and CSI, as nvmet reports.
std::size_t build_descriptors(const Namespace& ns, std::uint8_t* out) {
  std::size_t off = 0;
  auto add = [&](std::uint8_t type, const void* value, std::uint8_t length) {
    out[off] = type;
    out[off + 1] = length;
    std::memcpy(out + off + 4, value, length);
    off += 4 + length;
  };
  add(NVME_NIDT_EUI64, ns.ids.eui64.data(), NVME_NIDT_EUI64_LEN);
  add(NVME_NIDT_NGUID, ns.ids.nguid.data(), NVME_NIDT_NGUID_LEN);
  add(NVME_NIDT_UUID, ns.ids.uuid.data(), NVME_NIDT_UUID_LEN);
  add(NVME_NIDT_CSI, &kNvmCsi, NVME_NIDT_CSI_LEN);
  return off;
}
}  // namespace

void AdminQueue::identify(fabric::ControllerRequest& req) {
  const std::uint8_t cns = req.sqe.cdw10 & kCnsMask;
  const std::uint8_t csi = static_cast<std::uint8_t>(req.sqe.cdw11 >> 24);
  const std::uint32_t nsid = req.sqe.nsid;
  alignas(8) std::uint8_t page[kIdentifySize] = {};

  if (controller_->is_discovery()) {
    // A discovery controller answers Identify Controller only (nvmet_execute_disc_identify).
    if (cns != NVME_IDENTIFY_CNS_CTRL) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  }
  const auto table = controller_->namespaces();  // only what this host may see

  switch (cns) {
    case NVME_IDENTIFY_CNS_CTRL: {
      build_identify_controller(*controller_, *reinterpret_cast<nvme_id_ctrl*>(page));
      return complete_with_data(req, page, sizeof page);
    }
    case NVME_IDENTIFY_CNS_NS: {
      if (nsid == NVME_NSID_ALL) return finish(req, nvme::Status::generic(NVME_SC_INVALID_NS));
      // An inactive (unallocated or unattached) NSID returns a zero-filled structure (NVMe base spec).
      if (const Namespace* ns = table->find(nsid)) build_identify_namespace(*ns, *reinterpret_cast<nvme_id_ns*>(page));
      return complete_with_data(req, page, sizeof page);
    }
    case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST: {
      if (nsid >= 0xFFFFFFFE) return finish(req, nvme::Status::generic(NVME_SC_INVALID_NS));
      auto* list = reinterpret_cast<std::uint32_t*>(page);
      std::size_t n = 0;
      for (const auto& ns : table->all())
        if (ns->nsid > nsid && n < NVME_ID_NS_LIST_MAX) list[n++] = ns->nsid;
      return complete_with_data(req, page, sizeof page);
    }
    case NVME_IDENTIFY_CNS_NS_DESC_LIST: {
      const Namespace* ns = table->find(nsid);
      if (!ns) return finish(req, nvme::Status::generic(NVME_SC_INVALID_NS));
      build_descriptors(*ns, page);
      return complete_with_data(req, page, sizeof page);
    }
    case NVME_IDENTIFY_CNS_CSI_CTRL:
      // NVM command set specific controller structure: no limits to report, so all zeroes (as nvmet).
      if (csi != NVME_CSI_NVM) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
      static_assert(sizeof(nvme_id_ctrl_nvm) == kIdentifySize);
      return complete_with_data(req, page, sizeof page);
    default:
      // CNS 05h (NVM has no command set specific namespace structure here), 08h and the rest.
      return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  }
}

}  // namespace nvmf::target
