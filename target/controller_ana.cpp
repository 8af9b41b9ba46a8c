// The controller's side of Asymmetric Namespace Access: the ANA change notice and the ANA log page (0Ch).
// The states themselves live in the registry (target/ana.hpp), one table per port.
#include "target/controller.hpp"

namespace nvmf::target {

void Controller::notify_ana_change() {
  if (!ana_reported()) return;
  std::weak_ptr<Controller> weak = weak_from_this();
  admin_reactor_.post([weak] {
    auto self = weak.lock();
    if (!self || self->torn_down()) return;
    // Asynchronous Event Information 03h (ANA change) of type Notice, log page 0Ch (NVMe Base 2.0, Asynchronous
    // Event Request).
    self->raise_notice(NVME_CTRL_OAES_ANA, self->ana_notice_masked_,
                       NVME_AER_NOTICE | NVME_AER_NOTICE_ANA << 8 | NVME_LOG_LID_ANA << 16);
  });
}

std::vector<std::uint8_t> Controller::ana_log(bool rae, bool groups_only) {
  if (!rae) ana_notice_masked_ = false;
  return build_ana_log(*ana_, registry_->ana().change_count(), *namespaces(), groups_only);
}

}  // namespace nvmf::target
