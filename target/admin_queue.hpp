// The admin queue of one controller: fabrics Property Get/Set, then (once CC.EN = 1 and CSTS.RDY = 1) the admin
// commands. Handlers are split by command like the kernel's admin-cmd.c: admin_queue.cpp (dispatch, properties,
// AER, Keep Alive, Abort), identify.cpp, log_page.cpp, features.cpp. Runs on the admin reactor only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fabric/transport.hpp"
#include "nvme/status.hpp"

namespace nvmf::target {

class Controller;

class AdminQueue {
 public:
  AdminQueue(fabric::ControllerQueue& queue, std::shared_ptr<Controller> controller);

  void handle(fabric::ControllerRequest& req);
  void on_data(fabric::ControllerRequest& req);
  /// The connection is gone: the controller goes with it.
  void on_closed();

  Controller& controller() { return *controller_; }

 private:
  void handle_fabrics(fabric::ControllerRequest& req);
  void identify(fabric::ControllerRequest& req);
  void get_log_page(fabric::ControllerRequest& req);
  void get_features(fabric::ControllerRequest& req);
  void set_features(fabric::ControllerRequest& req);
  void set_features_with_data(fabric::ControllerRequest& req);
  /// Features 82h (Reservation Notification Mask) and 83h (Reservation Persistence): reservation_features.cpp.
  void get_reservation_feature(fabric::ControllerRequest& req);
  void set_reservation_feature(fabric::ControllerRequest& req);
  void async_event_request(fabric::ControllerRequest& req);
  /// Abort (08h): answered after a round trip to the I/O queue's reactor (Controller::abort_io_command).
  void abort(fabric::ControllerRequest& req);

  /// Copies `length` bytes of a controller-to-host structure that must fill the SGL exactly.
  void complete_with_data(fabric::ControllerRequest& req, const void* data, std::size_t length);
  void finish(fabric::ControllerRequest& req, nvme::Status status);

  fabric::ControllerQueue& queue_;
  std::shared_ptr<Controller> controller_;
  std::uint32_t aborts_outstanding_ = 0;  ///< I/O Aborts waiting for their queue's answer (ACL)
};

}  // namespace nvmf::target
