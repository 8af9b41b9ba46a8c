// Faults in the network against an in-process target, each on one raw NVMe/TCP connection while our host does
// verified I/O on another, on the same reactor: a connection stalled past its keep-alive, connections reset or
// cut short at every stage of their life, and a peer that reads nothing while the target has data to send
// (dropped after the send timeout). The faulty controller must leave the registry in time, the verified I/O
// must never fail, and a host whose connection the target resets must reconnect.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "initiator/controller.hpp"
#include "initiator/io_queue.hpp"
#include "target/controller.hpp"
#include "target/target.hpp"
#include "tests/fabric/tcp_test_support.hpp"
#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using namespace std::chrono_literals;
using nvmf::fabric::tcp::testing::Bytes;
using nvmf::fabric::tcp::testing::RawClient;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:netfaults";
constexpr const char* kFaultyHost = "nqn.2024-01.io.nvmf.test:faulty-host";
constexpr std::uint32_t kSendTimeoutMs = 1000;

nvme::Sqe connect_sqe(std::uint16_t qid, std::uint16_t sqsize, std::uint32_t kato) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.cid = 1;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = qid;
  c.sqsize = sqsize;
  c.kato = kato;
  return nvme::to_sqe(c);
}

Bytes connect_data(std::uint16_t cntlid) {
  nvmf_connect_data d{};
  for (int i = 0; i < 16; ++i) d.hostid[i] = static_cast<std::uint8_t>(0xB0 + i);
  d.cntlid = cntlid;
  std::strncpy(d.subsysnqn, kNqn, sizeof d.subsysnqn - 1);
  std::strncpy(d.hostnqn, kFaultyHost, sizeof d.hostnqn - 1);
  Bytes out(sizeof d);
  std::memcpy(out.data(), &d, sizeof d);
  return out;
}

nvme::Cqe response(RawClient& c) {
  Bytes p = c.recv_pdu();
  nvme::Cqe cqe{};
  EXPECT_EQ(p.size(), sizeof(nvme::tcp::CapsuleResp));
  if (p.size() == sizeof(nvme::tcp::CapsuleResp)) std::memcpy(&cqe, p.data() + 8, sizeof cqe);
  return cqe;
}

/// Admin Connect (with `kato`) and CC.EN = 1; returns the CNTLID.
std::uint16_t connect_admin(RawClient& c, std::uint32_t kato) {
  c.handshake();
  c.send_command(connect_sqe(0, 31, kato), connect_data(0xFFFF));
  nvme::Cqe cqe = response(c);
  EXPECT_TRUE(cqe.get_status().ok());
  nvme::PropertyCommand p{};
  p.opcode = nvme::kFabricsOpcode;
  p.cid = 2;
  p.fctype = nvme_fabrics_type_property_set;
  p.offset = 0x14;      // CC
  p.value = 0x460061;   // EN, IOSQES 6, IOCQES 4, as the Linux host writes it
  c.send_command(nvme::to_sqe(p), {});
  EXPECT_TRUE(response(c).get_status().ok());
  return static_cast<std::uint16_t>(cqe.dw0);
}

void connect_io(RawClient& c, std::uint16_t cntlid) {
  c.handshake();
  c.send_command(connect_sqe(1, 63, 0), connect_data(cntlid));
  EXPECT_TRUE(response(c).get_status().ok());
}

nvme::Sqe io_sqe(std::uint8_t opcode, std::uint16_t cid, std::uint64_t slba, std::uint32_t nlb) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.cid = cid;
  s.nsid = 1;
  s.cdw10 = static_cast<std::uint32_t>(slba);
  s.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  s.cdw12 = nlb - 1;
  return s;
}

/// Ends the connection with a TCP reset instead of a FIN.
void reset(RawClient& c, int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.close();
}

class NetworkFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.namespaces = {test::NamespaceSpec{16ull << 20, 512}};
    spec.subsystems = {s};
    target::TargetConfig config = test::make_target_config(spec);
    config.cores = {0};  // one reactor: the faulty connection and the verified one share it
    config.limits.send_timeout_ms = kSendTimeoutMs;
    target_ = std::make_unique<target::Target>(config);
    target_->start();
    address_ = target_->listen_addresses().front();
    verifier_ = std::thread([this] { verify_loop(); });
    // The verified host is connected before any fault starts.
    for (auto end = Clock::now() + 10s; Clock::now() < end && verified_.load() == 0 && !verify_failed_;)
      std::this_thread::sleep_for(10ms);
    ASSERT_GT(verified_.load(), 0u) << verify_error_;
  }
  void TearDown() override {
    stop_ = true;
    if (verifier_.joinable()) verifier_.join();
    EXPECT_FALSE(verify_failed_) << verify_error_;
    target_->stop();
  }

  /// Writes and reads back distinct data in a loop through our host on its own connection.
  void verify_loop() {
    initiator::Error error;
    auto options = test::host_options(test::Endpoint{address_.traddr, address_.trsvcid}, kNqn);
    auto ctrl = initiator::Controller::connect(options, &error);
    if (!ctrl) return fail("connect: " + error.to_string());
    auto queue = ctrl->create_io_queue(ctrl->reactor(), &error);
    if (!queue) return fail("I/O queue: " + error.to_string());
    const initiator::Namespace& ns = ctrl->namespaces().front();
    std::mt19937 rng(7);
    std::vector<std::uint8_t> data(8192), back(8192);
    for (std::uint64_t i = 0; !stop_; ++i) {
      for (auto& b : data) b = static_cast<std::uint8_t>(rng());
      const std::uint64_t slba = (i * 16) % (ns.capacity_blocks - 16);
      if (!queue->write_sync(ns, slba, 16, data.data()).ok()) return fail("write failed at " + std::to_string(i));
      if (!queue->read_sync(ns, slba, 16, back.data()).ok()) return fail("read failed at " + std::to_string(i));
      if (back != data) return fail("read-back differs at " + std::to_string(i));
      ++verified_;
      std::this_thread::sleep_for(2ms);
    }
    queue.reset();
    ctrl->shutdown();
  }
  void fail(const std::string& why) {
    verify_error_ = why;
    verify_failed_ = true;
  }

  std::size_t faulty_controllers() const {
    std::size_t n = 0;
    for (const auto& c : target_->registry()->find(kNqn)->controllers()) n += c->host().nqn == kFaultyHost;
    return n;
  }
  std::size_t faulty_io_queues() const {
    std::size_t n = 0;
    for (const auto& c : target_->registry()->find(kNqn)->controllers())
      if (c->host().nqn == kFaultyHost) n += c->io_queue_count();
    return n;
  }
  /// Waits until the faulty host's controller has no I/O queue left; returns how long that took (or `limit`).
  Clock::duration wait_io_queues_gone(Clock::duration limit) {
    const auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (faulty_io_queues() == 0) return Clock::now() - start;
      std::this_thread::sleep_for(20ms);
    }
    return limit;
  }
  /// Waits until the faulty host has no controller; returns how long that took (or `limit` when it never did).
  Clock::duration wait_gone(Clock::duration limit) {
    const auto start = Clock::now();
    while (Clock::now() - start < limit) {
      if (faulty_controllers() == 0) return Clock::now() - start;
      std::this_thread::sleep_for(20ms);
    }
    return limit;
  }
  /// The verified host completes more rounds: the reactor is serving.
  void expect_progress() {
    const auto before = verified_.load();
    for (auto end = Clock::now() + 5s; Clock::now() < end && verified_.load() < before + 5 && !verify_failed_;)
      std::this_thread::sleep_for(10ms);
    EXPECT_GE(verified_.load(), before + 5) << "the verified connection stalled";
  }

  std::unique_ptr<target::Target> target_;
  fabric::ListenAddress address_;
  std::thread verifier_;
  std::atomic<bool> stop_{false}, verify_failed_{false};
  std::atomic<std::uint64_t> verified_{0};
  std::string verify_error_;
};

// Stalled: connected with KATO 1 s, then silent. The keep-alive check runs once per KATO, so the controller
// goes between 1 and 2 KATOs later.
TEST_F(NetworkFaults, StalledConnectionIsDroppedWithinKeepAlive) {
  RawClient c(address_.trsvcid);
  connect_admin(c, 1000);
  ASSERT_EQ(faulty_controllers(), 1u);
  const auto took = wait_gone(5s);
  EXPECT_LT(took, 2000ms + 1000ms) << "the stalled controller outlived 2 x KATO + 1 s";
  EXPECT_TRUE(c.peer_closed()) << "the target closes the stalled connection";
  expect_progress();
}

// Reset or cut short at every stage: nothing of the connection may stay.
TEST_F(NetworkFaults, ResetAndShortenedConnectionsAreFreedAtEveryStage) {
  using nvmf::fabric::tcp::build_ic_req;
  for (int stage = 0; stage < 6; ++stage) {
    SCOPED_TRACE("stage " + std::to_string(stage));
    RawClient admin(address_.trsvcid);
    const int admin_fd = admin.fd();
    switch (stage) {
      case 0:  // reset right after the TCP handshake
        reset(admin, admin_fd);
        break;
      case 1: {  // half an ICReq
        auto req = build_ic_req(0, 0, 0);
        admin.send(&req, sizeof req / 2);
        admin.close();
        break;
      }
      case 2: {  // ICReq answered, then half a Connect capsule
        admin.handshake();
        std::uint8_t head[nvmf::fabric::tcp::kMaxDigestedHeader];
        nvme::Sqe sqe = connect_sqe(0, 31, 0);
        sqe.flags = nvme::kPsdtSgl;
        sqe.dptr.length = 1024;
        sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
        auto l = nvmf::fabric::tcp::build_capsule_cmd(head, sqe, {}, 1024, 4);
        admin.send(head, l.header_len);
        admin.send(connect_data(0xFFFF).data(), 300);
        admin.close();
        break;
      }
      case 3:  // a live controller, then a reset of its admin connection
        connect_admin(admin, 0);
        ASSERT_EQ(faulty_controllers(), 1u);
        reset(admin, admin_fd);
        break;
      case 4: {  // admin and I/O queue; a write waiting for its data, half of it sent, then both reset
        const std::uint16_t cntlid = connect_admin(admin, 0);
        RawClient io(address_.trsvcid);
        connect_io(io, cntlid);
        io.send_command(io_sqe(nvme_cmd_write, 7, 0, 64), {}, 64 * 512);
        Bytes r2t = io.recv_pdu();
        ASSERT_EQ(r2t.size(), sizeof(nvme::tcp::R2T));
        nvme::tcp::R2T h{};
        std::memcpy(&h, r2t.data(), sizeof h);
        std::uint8_t head[nvmf::fabric::tcp::kMaxDigestedHeader];
        auto l = nvmf::fabric::tcp::build_h2c_data(head, 7, h.ttag, 0, 64 * 512, true, {}, 4);
        io.send(head, l.header_len);
        io.send(Bytes(4096, 0x33));
        reset(io, io.fd());
        reset(admin, admin_fd);
        break;
      }
      case 5: {  // admin and I/O queue; only the I/O connection closes mid-command header
        const std::uint16_t cntlid = connect_admin(admin, 0);
        RawClient io(address_.trsvcid);
        connect_io(io, cntlid);
        ASSERT_EQ(faulty_io_queues(), 1u);
        std::uint8_t head[nvmf::fabric::tcp::kMaxDigestedHeader];
        auto l = nvmf::fabric::tcp::build_capsule_cmd(head, io_sqe(nvme_cmd_read, 8, 0, 8), {}, 0, 4);
        io.send(head, l.header_len - 20);
        io.close();
        // The I/O queue goes; the controller stays with its admin queue (as nvmet: the host decides whether to
        // reset the association) until that connection ends too.
        EXPECT_LT(wait_io_queues_gone(3s), 3s) << "the cut I/O connection is still attached";
        EXPECT_EQ(faulty_controllers(), 1u);
        admin.close();
        break;
      }
    }
    EXPECT_LT(wait_gone(3s), 3s) << "a controller of the faulty host is still registered";
    expect_progress();
  }
}

// A peer that reads nothing on its I/O connection while the target has data for it: the target neither blocks
// its reactor nor keeps that connection past the send timeout. The kernel aborts it without a reset (the peer is
// presumed dead, TCP_USER_TIMEOUT), the I/O queue detaches; the admin connection (KATO 0) stays until it closes.
TEST_F(NetworkFaults, PeerThatReadsNothingIsDroppedAfterTheSendTimeout) {
  RawClient admin(address_.trsvcid);
  const std::uint16_t cntlid = connect_admin(admin, 0);
  RawClient io(address_.trsvcid);
  connect_io(io, cntlid);
  // 32 reads of 128 KiB: far more than the socket buffers hold; never read back.
  for (std::uint16_t cid = 0; cid < 32; ++cid) io.send_command(io_sqe(nvme_cmd_read, cid, cid * 256u, 256), {}, 256 * 512);
  ASSERT_EQ(faulty_controllers(), 1u);
  expect_progress();
  // TCP_USER_TIMEOUT is checked on the zero-window probes, which back off from 200 ms: allow a few seconds.
  const auto took = wait_io_queues_gone(10s);
  EXPECT_LT(took, 10s) << "the target kept a connection that read nothing";
  EXPECT_GE(took + 500ms, std::chrono::milliseconds(kSendTimeoutMs)) << "dropped before the send timeout";
  expect_progress();
  EXPECT_EQ(faulty_controllers(), 1u) << "the admin connection was healthy";
  admin.close();
  EXPECT_LT(wait_gone(3s), 3s);
}

}  // namespace

namespace {
// The target resets the host's connection (its listener removed, which closes the controllers connected through
// it, then bound again): `nvmf perf --verify` with reconnect options reconnects and finishes without an error.
TEST(NetworkFaultsReconnect, HostReconnectsWhenTheTargetResetsItsConnection) {
  test::TargetSpec spec;
  test::SubsystemSpec s;
  s.nqn = kNqn;
  s.namespaces = {test::NamespaceSpec{16ull << 20, 512}};
  spec.subsystems = {s};
  target::TargetConfig config = test::make_target_config(spec);
  config.cores = {0};
  target::Target target(config);
  target.start();
  const fabric::ListenAddress address = target.listen_addresses().front();
  auto controllers = [&] { return target.registry()->find(kNqn)->controllers().size(); };

  auto run = std::async(std::launch::async, [&] {
    return test::run_command({test::nvmf_binary(), "perf", "-a", address.traddr, "-s", address.trsvcid, "-n", kNqn,
                              "--verify", "-T", "5", "-q", "8", "-o", "4096", "-w", "randread", "--reconnect-delay",
                              "1", "--ctrl-loss-tmo", "20", "--output-format", "json", "--quiet"},
                             std::chrono::seconds(60));
  });
  for (auto end = Clock::now() + 10s; Clock::now() < end && controllers() == 0;) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(controllers(), 1u);
  std::this_thread::sleep_for(1s);  // mid-run: the write phase is under way
  target.remove_listener(address);
  EXPECT_EQ(controllers(), 0u) << "removing the listener closes its controllers";
  std::this_thread::sleep_for(300ms);
  target.add_listener(address);
  test::CommandResult r = run.get();
  target.stop();
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("reconnected"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"verify_errors\": 0"), std::string::npos) << r.out;
}
}  // namespace
