// The namespace-specific reservation features: Reservation Notification Mask (82h), kept per controller and
// namespace, and Reservation Persistence (83h): the namespace's PTPL state, changeable where it has a PTPL file.
#include "target/admin_queue.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint32_t kSaveBit = 1u << 31;
constexpr std::uint32_t kPtplBit = 1u << 0;
constexpr std::uint8_t kSelectCapabilities = 3;
constexpr std::uint32_t kNamespaceSpecific = 1u << 1;  // capabilities: bit 1
constexpr std::uint32_t kChangeable = 1u << 2;         // capabilities: bit 2

/// The namespace a reservation feature names: Invalid Namespace when inactive, Invalid Field when it keeps no
/// reservations (passthrough namespaces, RESCAP 0), as nvmet answers.
nvme::Status find_reservation_namespace(const Controller& c, std::uint32_t nsid, const Namespace** found = nullptr) {
  const Namespace* ns = c.namespaces()->find(nsid);
  if (!ns) return nvme::Status::generic(NVME_SC_INVALID_NS);
  if (ns->backend->forwards_commands()) return nvme::Status::generic(NVME_SC_INVALID_FIELD);
  if (found) *found = ns;
  return nvme::Status::success();
}
}  // namespace

void AdminQueue::get_reservation_feature(fabric::ControllerRequest& req) {
  const std::uint8_t fid = req.sqe.cdw10 & 0xFF;
  const std::uint8_t sel = (req.sqe.cdw10 >> 8) & 0x7;
  if (sel > kSelectCapabilities) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  const Namespace* ns = nullptr;
  if (nvme::Status st = find_reservation_namespace(*controller_, req.sqe.nsid, &ns); !st.ok()) return finish(req, st);
  const bool ptpl_file = ns->reservations->persistence_supported();
  if (sel == kSelectCapabilities) {
    req.cqe.dw0 = fid == NVME_FEAT_FID_RESV_MASK || ptpl_file ? kNamespaceSpecific | kChangeable : kNamespaceSpecific;
    return finish(req, nvme::Status::success());
  }
  // Nothing is saveable: the default and saved values are 0 (nothing masked, PTPL cleared).
  const bool current = sel == 0;
  if (fid == NVME_FEAT_FID_RESV_MASK)
    req.cqe.dw0 = current ? controller_->reservation_log().mask(req.sqe.nsid) : 0;
  else
    req.cqe.dw0 = current && ns->reservations->ptpl() ? kPtplBit : 0;
  finish(req, nvme::Status::success());
}

void AdminQueue::set_reservation_feature(fabric::ControllerRequest& req) {
  const std::uint8_t fid = req.sqe.cdw10 & 0xFF;
  const std::uint32_t cdw11 = req.sqe.cdw11;
  const std::uint32_t nsid = req.sqe.nsid;
  if (req.sqe.cdw10 & kSaveBit) return finish(req, nvme::Status::command_specific(NVME_SC_FEATURE_NOT_SAVEABLE));
  if (fid == NVME_FEAT_FID_RESV_MASK) {
    if (cdw11 & ~ReservationLog::kMaskBits) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
    if (nsid != NVME_NSID_ALL)
      if (nvme::Status st = find_reservation_namespace(*controller_, nsid); !st.ok()) return finish(req, st);
    controller_->reservation_log().set_mask(nsid, cdw11);
    req.cqe.dw0 = cdw11;
    return finish(req, nvme::Status::success());
  }
  // 83h: a namespace with a PTPL file (RESCAP bit 0) takes either state; without one only PTPL cleared.
  const Namespace* ns = nullptr;
  if (nsid == NVME_NSID_ALL) return finish(req, cdw11 & kPtplBit ? nvme::Status::generic(NVME_SC_INVALID_FIELD)
                                                                  : nvme::Status::success());
  if (nvme::Status st = find_reservation_namespace(*controller_, nsid, &ns); !st.ok()) return finish(req, st);
  if (!ns->reservations->persistence_supported())
    return finish(req, cdw11 & kPtplBit ? nvme::Status::generic(NVME_SC_INVALID_FIELD) : nvme::Status::success());
  finish(req, ns->reservations->set_ptpl(cdw11 & kPtplBit));
}

}  // namespace nvmf::target
