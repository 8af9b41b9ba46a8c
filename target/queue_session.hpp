// The QueueHandler the transport drives for each connection. A new queue accepts only Connect; Connect makes it
// the admin queue of a new controller (QID 0) or an I/O queue of an existing one, and from then on commands go
// to AdminQueue or IoQueue. Connect itself is in fabrics_connect.cpp.
#pragma once
#include <memory>

#include "fabric/timer_wheel.hpp"
#include "fabric/transport.hpp"
#include "target/admin_queue.hpp"
#include "target/auth/dhchap_controller.hpp"
#include "target/io_queue.hpp"
#include "target/registry.hpp"

namespace nvmf::target {

enum class SessionState {
  awaiting_connect,  ///< Only Connect is accepted (anything else: Command Sequence Error, as SPDK)
  connecting,        ///< Connect data is being fetched from the host
  admin,             ///< Admin queue of a controller
  io,                ///< I/O queue of a controller
  disconnected,      ///< I/O queue after Disconnect: the host closes the connection next
  closed,            ///< The connection is gone
};

class QueueSession final : public fabric::QueueHandler {
 public:
  /// `portid`: the target port the connection came through (0: not tied to a port, every subsystem served).
  QueueSession(fabric::ControllerQueue& queue, std::shared_ptr<Registry> registry, std::uint16_t portid = 0);
  ~QueueSession() override;

  void on_command(fabric::ControllerRequest& req) override;
  void on_data_fetched(fabric::ControllerRequest& req) override;
  void on_queue_closed() override;

  SessionState state() const { return state_; }

 private:
  void begin_connect(fabric::ControllerRequest& req);
  void finish_connect(fabric::ControllerRequest& req);
  void connect_admin(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                     const nvmf_connect_data& data);
  void connect_io(fabric::ControllerRequest& req, const std::shared_ptr<Subsystem>& subsystem,
                  const nvmf_connect_data& data);
  void handle_io_fabrics(fabric::ControllerRequest& req);
  void reject(fabric::ControllerRequest& req, nvme::Status status, std::uint32_t dw0 = 0);
  /// A refused Connect: logged at info with `reason` and the status's Fabrics meaning, then rejected.
  void refuse_connect(fabric::ControllerRequest& req, nvme::Status status, std::uint32_t dw0, const char* reason);
  void log_connect_refusal(const fabric::ControllerRequest& req, nvme::Status status, const char* reason) const;

  // In-band authentication (queue_auth.cpp)
  static bool is_auth_command(const fabric::ControllerRequest& req);
  /// Called by a successful Connect: AUTHREQ bits for DW0 (0 when the host has no DH-HMAC-CHAP key).
  std::uint32_t require_authentication(const std::shared_ptr<Controller>& controller, const std::string& hostnqn,
                                       const std::string& subnqn);
  void handle_auth(fabric::ControllerRequest& req);
  void finish_auth_send(fabric::ControllerRequest& req);
  void auth_receive(fabric::ControllerRequest& req);
  /// After each message: authenticated, failed (the association ends) or waiting (timer re-armed).
  void after_auth_step();
  void arm_auth_timer();
  void stop_auth_timer();
  void end_association();

  fabric::ControllerQueue& queue_;
  std::shared_ptr<Registry> registry_;
  const std::uint16_t portid_;
  SessionState state_ = SessionState::awaiting_connect;
  std::unique_ptr<AdminQueue> admin_;
  std::unique_ptr<IoQueue> io_;
  // In-band authentication: until authenticated_, only Authentication Send/Receive are accepted.
  bool authenticated_ = true;
  std::unique_ptr<DhchapController> auth_;  ///< The transaction in progress (or the last one)
  fabric::TimerWheel::Id auth_timer_ = 0;
  fabric::TimerWheel::Id close_timer_ = 0;
  std::weak_ptr<Controller> controller_;
  std::string hostnqn_, subnqn_;
};

/// Hands every new connection of one port a QueueSession over the shared registry.
class SessionFactory final : public fabric::QueueHandlerFactory {
 public:
  explicit SessionFactory(std::shared_ptr<Registry> registry, std::uint16_t portid = 0)
      : registry_(std::move(registry)), portid_(portid) {}
  std::unique_ptr<fabric::QueueHandler> make_handler(fabric::ControllerQueue& queue) override {
    return std::make_unique<QueueSession>(queue, registry_, portid_);
  }

 private:
  std::shared_ptr<Registry> registry_;
  const std::uint16_t portid_;
};

}  // namespace nvmf::target
