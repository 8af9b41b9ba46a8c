// Our host against our target over loopback NVMe/TCP with DH-HMAC-CHAP: unidirectional and bidirectional, null
// group and FFDHE, every queue authenticated, verified I/O afterwards; a wrong secret, a missing secret and a
// wrong controller secret are refused with the reason, and another host's verified I/O is not disturbed.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "initiator/controller.hpp"
#include "nvme/dhchap_secret.hpp"
#include "nvmf/host.h"
#include "target/registry.hpp"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"

namespace nvmf {
namespace {

using initiator::Controller;
using initiator::ControllerOptions;
using initiator::Error;
using namespace nvme::dhchap;

constexpr const char* kNqn = "nqn.2024-01.io.nvmf:auth-functional";
constexpr const char* kOtherHost = "nqn.2014-08.org.nvmexpress:uuid:0f0f0f0f-7c3e-4b1f-9e51-5b6f0b1d2c3e";

class AuthFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.namespaces = {test::NamespaceSpec{16ull << 20, 512}};
    spec.subsystems = {s};
    std::string error;
    ASSERT_TRUE(target_.start(spec, &error)) << error;
    host_secret_ = format_secret(generate_secret(32, Hash::sha256, test::kTestHostNqn));
    ctrl_secret_ = format_secret(generate_secret(48, std::nullopt, ""));
    set_keys({}, {});
  }

  void set_keys(std::vector<std::string> hashes, std::vector<std::string> groups) {
    target::HostConfig h;
    h.nqn = test::kTestHostNqn;
    h.dhchap_key = host_secret_;
    h.dhchap_ctrl_key = ctrl_secret_;
    h.dhchap_hashes = std::move(hashes);
    h.dhchap_dhgroups = std::move(groups);
    target_.target().registry()->set_host(h);
  }

  ControllerOptions options(bool bidirectional) {
    ControllerOptions o = target_.options(kNqn);
    o.dhchap_secret = host_secret_;
    if (bidirectional) o.dhchap_ctrl_secret = ctrl_secret_;
    o.nr_io_queues = 2;
    return o;
  }

  /// Connect, open two I/O queues (each authenticates), write and read back.
  void attach_and_verify(const ControllerOptions& o, std::uint64_t lba) {
    Error error;
    auto ctrl = Controller::connect(o, &error);
    ASSERT_TRUE(ctrl) << error.to_string();
    auto q1 = ctrl->create_io_queue(ctrl->reactor(), &error);
    ASSERT_TRUE(q1) << error.to_string();
    auto q2 = ctrl->create_io_queue(ctrl->reactor(), &error);
    ASSERT_TRUE(q2) << error.to_string();
    const auto& ns = ctrl->namespaces().front();
    std::vector<std::uint8_t> data(4096), back(4096);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13 + lba);
    ASSERT_TRUE(q1->write_sync(ns, lba, 8, data.data()).ok());
    ASSERT_TRUE(q2->read_sync(ns, lba, 8, back.data()).ok());
    EXPECT_EQ(back, data);
    q1.reset();
    q2.reset();
    EXPECT_FALSE(ctrl->shutdown());
  }

  test::EmbeddedTarget target_;
  std::string host_secret_, ctrl_secret_;
};

TEST_F(AuthFunctional, UnidirectionalWithEachHash) {
  for (const char* hash : {"sha256", "sha384", "sha512"}) {
    SCOPED_TRACE(hash);
    set_keys({hash}, {"null"});
    attach_and_verify(options(false), 8);
  }
}

TEST_F(AuthFunctional, BidirectionalWithFfdhe) {
  for (const char* group : {"ffdhe2048", "ffdhe3072"}) {
    SCOPED_TRACE(group);
    set_keys({}, {group});
    attach_and_verify(options(true), 64);
  }
}

TEST_F(AuthFunctional, ReauthenticationOnRequest) {
  Error error;
  auto ctrl = Controller::connect(options(true), &error);
  ASSERT_TRUE(ctrl) << error.to_string();
  EXPECT_FALSE(ctrl->reauthenticate()) << ctrl->reauthenticate().to_string();
  EXPECT_FALSE(ctrl->shutdown());
}

TEST_F(AuthFunctional, RefusedWithoutTheRightSecrets) {
  // A bystander host without authentication does verified I/O throughout.
  ControllerOptions other = target_.options(kNqn);
  other.hostnqn = kOtherHost;
  other.hostid.clear();
  Error error;
  auto by = Controller::connect(other, &error);
  ASSERT_TRUE(by) << error.to_string();
  auto byq = by->create_io_queue(by->reactor(), &error);
  ASSERT_TRUE(byq) << error.to_string();
  const auto& ns = by->namespaces().front();
  auto bystander_io = [&](std::uint64_t lba) {
    std::vector<std::uint8_t> data(512, static_cast<std::uint8_t>(lba)), back(512);
    ASSERT_TRUE(byq->write_sync(ns, lba, 1, data.data()).ok());
    ASSERT_TRUE(byq->read_sync(ns, lba, 1, back.data()).ok());
    EXPECT_EQ(back, data);
  };

  ControllerOptions wrong = options(false);
  wrong.dhchap_secret = format_secret(generate_secret(32, std::nullopt, ""));
  EXPECT_FALSE(Controller::connect(wrong, &error));
  EXPECT_NE(error.to_string().find("authentication failed"), std::string::npos) << error.to_string();
  EXPECT_EQ(error.to_string().find(wrong.dhchap_secret.substr(10, 12)), std::string::npos);
  bystander_io(100);

  ControllerOptions none = options(false);
  none.dhchap_secret.clear();
  EXPECT_FALSE(Controller::connect(none, &error));
  EXPECT_NE(error.to_string().find("requires DH-HMAC-CHAP"), std::string::npos) << error.to_string();
  bystander_io(101);

  ControllerOptions wrong_ctrl = options(true);
  wrong_ctrl.dhchap_ctrl_secret = format_secret(generate_secret(48, std::nullopt, ""));
  EXPECT_FALSE(Controller::connect(wrong_ctrl, &error));
  EXPECT_NE(error.to_string().find("controller's response is wrong"), std::string::npos) << error.to_string();
  bystander_io(102);

  ControllerOptions garbled = options(false);
  garbled.dhchap_secret = "DHHC-1:01:notbase64!:";
  EXPECT_FALSE(Controller::connect(garbled, &error));
  EXPECT_NE(error.to_string().find("--dhchap-secret"), std::string::npos) << error.to_string();
  bystander_io(103);

  byq.reset();
  EXPECT_FALSE(by->shutdown());
}

TEST_F(AuthFunctional, CApiTakesTheSecrets) {
  const auto o = target_.options(kNqn);
  nvmf_ctrl_opts opts;
  nvmf_ctrl_opts_init(&opts, sizeof opts);
  opts.traddr = o.traddr.c_str();
  opts.trsvcid = o.trsvcid.c_str();
  opts.subnqn = kNqn;
  opts.hostnqn = test::kTestHostNqn;
  opts.hostid = test::kTestHostId;
  opts.admin_thread = false;
  char err[256] = {};
  nvmf_ctrl* ctrl = nullptr;
  EXPECT_NE(nvmf_ctrl_connect(&opts, &ctrl, err, sizeof err), 0);  // no secret: refused
  EXPECT_NE(std::string(err).find("requires DH-HMAC-CHAP"), std::string::npos) << err;
  opts.dhchap_secret = host_secret_.c_str();
  opts.dhchap_ctrl_secret = ctrl_secret_.c_str();
  ASSERT_EQ(nvmf_ctrl_connect(&opts, &ctrl, err, sizeof err), 0) << err;
  nvmf_qpair* qp = nvmf_qpair_create(ctrl, 32, err, sizeof err);
  EXPECT_NE(qp, nullptr) << err;
  if (qp) {
    EXPECT_EQ(nvmf_qpair_reauthenticate(qp), 0);
    nvmf_qpair_destroy(qp);
  }
  EXPECT_EQ(nvmf_ctrl_reauthenticate(ctrl), 0);
  EXPECT_EQ(nvmf_ctrl_reauthenticate(nullptr), -EINVAL);
  EXPECT_EQ(nvmf_qpair_reauthenticate(nullptr), -EINVAL);
  EXPECT_EQ(nvmf_ctrl_disconnect(ctrl), 0);
}

// An I/O queue re-authenticates on request while its callbacks keep every entry busy (each completion submits
// the next write): it keeps a freed entry for the transaction instead of starving behind them, and the writes
// go on meanwhile and read back. Then the target's key changes: the next re-authentication is refused (it
// really ran against the target), and the association ends.
TEST_F(AuthFunctional, IoQueueReauthenticatesWhileIoIsOutstanding) {
  Error error;
  auto ctrl = Controller::connect(options(true), &error);
  ASSERT_TRUE(ctrl) << error.to_string();
  auto q = ctrl->create_io_queue(ctrl->reactor(), &error, 8);
  ASSERT_TRUE(q) << error.to_string();
  struct Load {
    initiator::IoQueue* q;
    const initiator::Namespace* ns;
    std::vector<std::uint8_t> block = std::vector<std::uint8_t>(512);
    int budget = 100000, issued = 0, ok = 0, failed = 0, refused = 0;
    bool submit_one() {
      if (issued >= budget) return false;
      auto r = q->write(*ns, 300 + issued % 64, 1, block.data(), &Load::done, this);
      if (r != initiator::SubmitResult::ok) return ++refused, false;
      return ++issued, true;
    }
    static void done(void* arg, nvme::Status s) {
      auto* l = static_cast<Load*>(arg);
      ++(s.ok() ? l->ok : l->failed);
      l->submit_one();  // keep the queue full
    }
  } load{q.get(), &ctrl->namespaces().front()};
  for (std::size_t i = 0; i < load.block.size(); ++i) load.block[i] = static_cast<std::uint8_t>(i * 11);
  while (load.submit_one()) {
  }
  ASSERT_EQ(load.issued, q->depth());  // every entry busy
  EXPECT_FALSE(q->reauthenticate()) << q->reauthenticate().to_string();
  EXPECT_GT(load.ok, 0);                        // writes completed during the transaction...
  EXPECT_LT(load.issued, load.budget);          // ...and it did not wait for the load to end
  load.budget = load.issued;                    // now let the queue drain
  while (load.ok + load.failed < load.issued) q->process_completions(std::chrono::milliseconds(10));
  EXPECT_EQ(load.failed, 0);
  std::vector<std::uint8_t> back(512);
  for (int lba = 300; lba < 300 + std::min(load.issued, 64); ++lba) {
    ASSERT_TRUE(q->read_sync(*load.ns, lba, 1, back.data()).ok());
    EXPECT_EQ(back, load.block) << "LBA " << lba;
  }
  host_secret_ = format_secret(generate_secret(32, std::nullopt, ""));  // the target's key, not the host's
  set_keys({}, {});
  Error refused = q->reauthenticate();
  EXPECT_TRUE(refused);
  EXPECT_NE(refused.to_string().find("authentication failed"), std::string::npos) << refused.to_string();
  q.reset();
  ctrl.reset();
}

}  // namespace
}  // namespace nvmf
