// Reads from a null namespace leave the target straight from the backend's span of zeroes (Backend::lend_read).
// Over real NVMe/TCP: the data is right at every size, and removing the namespace while 128 KiB reads from it are
// in flight is safe: each read returns zeroes or Invalid Namespace, the connection stays up (a send from memory
// unmapped under it would fail with EFAULT and end the connection) and the other (RAM) namespace serves on.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "initiator/controller.hpp"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {

constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:lent-read";
constexpr std::uint32_t kBlock = 512;
constexpr std::uint32_t kIoBytes = 128 * 1024;
constexpr std::uint64_t kNsBytes = 16ull << 20;

std::byte pattern_at(std::uint64_t offset) { return static_cast<std::byte>((offset * 7 + offset / 4096) & 0xFF); }

struct Read {
  std::vector<std::byte> buf = std::vector<std::byte>(kIoBytes);
  std::uint64_t slba = 0;
  bool done = false;
  nvme::Status status;
  static void on_done(void* arg, nvme::Status st) {
    auto* r = static_cast<Read*>(arg);
    r->status = st;
    r->done = true;
  }
  bool zeroes() const {
    for (std::byte b : buf)
      if (b != std::byte{0}) return false;
    return true;
  }
};

class LentReadFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.namespaces = std::vector<test::NamespaceSpec>(2, test::NamespaceSpec{kNsBytes, kBlock});
    s.namespaces[1].null_backend = true;
    spec.subsystems = {s};
    std::string error;
    ASSERT_TRUE(target_.start(spec, &error)) << error;
    Error e;
    ctrl_ = Controller::connect(target_.options(kNqn), &e);
    ASSERT_TRUE(ctrl_) << e.to_string();
    queue_ = ctrl_->create_io_queue(ctrl_->reactor(), &e);
    ASSERT_TRUE(queue_) << e.to_string();
    ASSERT_EQ(ctrl_->namespaces().size(), 2u);
    ns1_ = ctrl_->namespaces()[0];
    ns2_ = ctrl_->namespaces()[1];
    std::vector<std::byte> chunk(kIoBytes);
    for (std::uint64_t off = 0; off < kNsBytes; off += kIoBytes) {
      for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern_at(off + i);
      ASSERT_TRUE(queue_->write_sync(ns1_, off / kBlock, kIoBytes / kBlock, chunk.data()).ok());
    }
  }
  void TearDown() override {
    queue_.reset();
    if (ctrl_) {
      EXPECT_FALSE(ctrl_->shutdown());
    }
  }

  test::EmbeddedTarget target_;
  std::unique_ptr<Controller> ctrl_;
  std::unique_ptr<IoQueue> queue_;
  Namespace ns1_, ns2_;  // copies: the controller's list changes when the namespace goes
};

TEST_F(LentReadFunctional, ReadsAreRightAtEverySize) {
  for (std::uint32_t bytes : {512u, 4096u, 8192u, 65536u, kIoBytes}) {
    for (std::uint64_t slba : {std::uint64_t(0), std::uint64_t(3), std::uint64_t(kNsBytes / kBlock - bytes / kBlock)}) {
      std::vector<std::byte> buf(bytes, std::byte{0xA5});
      ASSERT_TRUE(queue_->read_sync(ns2_, slba, bytes / kBlock, buf.data()).ok());
      for (std::size_t i = 0; i < bytes; ++i)
        ASSERT_EQ(buf[i], std::byte{0}) << "size " << bytes << " slba " << slba << " byte " << i;
      ASSERT_TRUE(queue_->read_sync(ns1_, slba, bytes / kBlock, buf.data()).ok());
      for (std::size_t i = 0; i < bytes; ++i)
        ASSERT_EQ(buf[i], pattern_at(slba * kBlock + i)) << "RAM, size " << bytes << " slba " << slba << " byte " << i;
    }
  }
}

TEST_F(LentReadFunctional, NamespaceRemovedUnderReadsInFlight) {
  const std::uint32_t depth = std::min<std::uint32_t>(queue_->depth() - 1, 64);
  std::vector<Read> reads(depth);
  const std::uint64_t slots = kNsBytes / kIoBytes;
  std::uint64_t issued = 0, ok = 0, invalid = 0;
  bool removed = false;
  auto submit = [&](Read& r) {
    r.done = false;
    std::memset(r.buf.data(), 0xA5, r.buf.size());  // so that zeroes must come from the target
    r.slba = (issued++ * 37 % slots) * (kIoBytes / kBlock);
    ASSERT_EQ(queue_->read(ns2_, r.slba, kIoBytes / kBlock, r.buf.data(), &Read::on_done, &r), SubmitResult::ok);
  };
  for (auto& r : reads) submit(r);
  std::vector<bool> active(depth, true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Keep the queue full of reads until 200 have failed after the removal, then drain.
  while (std::chrono::steady_clock::now() < deadline) {
    queue_->process_completions(std::chrono::milliseconds(1));
    for (std::size_t i = 0; i < reads.size(); ++i) {
      Read& r = reads[i];
      if (!active[i] || !r.done) continue;
      if (r.status.ok()) {
        ++ok;
        ASSERT_TRUE(r.zeroes()) << "read at slba " << r.slba << " returned wrong data";
      } else {
        ASSERT_TRUE(r.status.same_code(nvme::Status::generic(NVME_SC_INVALID_NS))) << r.status.to_string();
        ++invalid;
      }
      if (!removed && ok >= 2000) {
        target_.target().remove_namespace(kNqn, ns2_.nsid);  // from this thread, as target-ctl's does
        removed = true;
      }
      if (invalid < 200)
        submit(r);
      else
        active[i] = false;
    }
    if (queue_->outstanding() == 0) break;
  }
  EXPECT_TRUE(removed);
  EXPECT_GE(ok, 2000u);
  EXPECT_GE(invalid, 200u) << "reads after the removal must fail with Invalid Namespace";
  EXPECT_EQ(queue_->outstanding(), 0u);
  // A send from memory unmapped under it fails (EFAULT) and ends the connection: the host would have to reconnect.
  int losses = 0;
  ctrl_->set_event_callback([&](const ControllerEvent& ev) {
    if (ev.type == ControllerEvent::Type::disconnected || ev.type == ControllerEvent::Type::reconnected) ++losses;
  });
  ctrl_->poll(std::chrono::milliseconds(0));
  EXPECT_EQ(losses, 0) << "the connection was lost during the removal";
  EXPECT_EQ(ctrl_->generation(), 1u) << "the host had to reconnect";
  EXPECT_EQ(ctrl_->state(), Controller::State::live);
  std::vector<std::byte> buf(kIoBytes);
  ASSERT_TRUE(queue_->read_sync(ns1_, 0, kIoBytes / kBlock, buf.data()).ok());
  for (std::size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], pattern_at(i));
}

}  // namespace
