// The fault-injecting backend through the backend seam: which commands each selector picks, the errno each
// fault completes with and the NVMe status that becomes, delays served by the reactor's timers while other I/O
// goes on, and the configuration spellings (fault:BACKEND?FAULTS, the "faults" field) with their refusals.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "fabric/reactor.hpp"
#include "target/backend_status.hpp"
#include "target/backends/fault_backend.hpp"
#include "target/backends/ram_backend.hpp"
#include "target/config.hpp"
#include "target/config_json.hpp"
#include "target/namespace_factory.hpp"

namespace nvmf::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Op {
  target::BackendIo io;
  int result = 1;
  bool done = false;
  Clock::time_point finished;
  Op() {
    io.context = this;
    io.done = [](target::BackendIo& i, int res) {
      auto* self = static_cast<Op*>(i.context);
      self->result = res;
      self->done = true;
      self->finished = Clock::now();
    };
  }
  int wait(fabric::Reactor& r) {
    for (int i = 0; i < 2000 && !done; ++i) r.run_once(std::chrono::milliseconds(5));
    return result;
  }
};

class FaultBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<target::FaultBackend> wrap(const std::string& faults) {
    return std::make_unique<target::FaultBackend>(ram_, target::parse_fault_spec(faults), 9);
  }
  int read_lba(target::Backend& b, std::uint64_t lba, std::uint32_t blocks = 1) {
    Op op;
    b.read(reactor_, op.io, lba << 9, buffer_.data(), blocks << 9);
    return op.wait(reactor_);
  }
  int write_lba(target::Backend& b, std::uint64_t lba, std::uint32_t blocks = 1) {
    Op op;
    b.write(reactor_, op.io, lba << 9, buffer_.data(), blocks << 9, false);
    return op.wait(reactor_);
  }

  std::shared_ptr<target::RamBackend> ram_ = std::make_shared<target::RamBackend>(1 << 20);
  fabric::Reactor reactor_{0};
  std::vector<std::byte> buffer_ = std::vector<std::byte>(64 * 1024);
};

TEST_F(FaultBackendTest, ReadErrorOnAnLbaRangeOnly) {
  auto b = wrap("read_error=lba:100-199");
  EXPECT_EQ(read_lba(*b, 99), 0);
  EXPECT_EQ(read_lba(*b, 100), -EIO);
  EXPECT_EQ(read_lba(*b, 199), -EIO);
  EXPECT_EQ(read_lba(*b, 200), 0);
  EXPECT_EQ(read_lba(*b, 96, 8), -EIO) << "a command overlapping the range fails";
  EXPECT_EQ(write_lba(*b, 150), 0) << "read_error leaves writes alone";
  EXPECT_EQ(b->injected(), 3u);
  // The status a real drive gives for an unrecoverable read: Unrecovered Read Error (SCT 2h, SC 81h).
  const nvme::Status st = target::backend_status(-EIO, target::BackendOp::read);
  EXPECT_EQ(st.sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(st.sc(), 0x81);
}

TEST_F(FaultBackendTest, WriteErrorEveryNthWriteIsAWriteFault) {
  auto b = wrap("write_error=every:3");
  std::vector<int> results;
  for (int i = 0; i < 6; ++i) results.push_back(write_lba(*b, i));
  EXPECT_EQ(results, (std::vector<int>{0, 0, -EIO, 0, 0, -EIO}));
  EXPECT_EQ(read_lba(*b, 0), 0);
  const nvme::Status st = target::backend_status(-EIO, target::BackendOp::write);
  EXPECT_EQ(st.sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(st.sc(), 0x80);
}

TEST_F(FaultBackendTest, WriteNoSpaceIsCapacityExceededWithDnr) {
  auto b = wrap("write_nospace=lba:10-19");
  EXPECT_EQ(write_lba(*b, 9), 0);
  EXPECT_EQ(write_lba(*b, 10), -ENOSPC);
  Op z;
  b->write_zeroes(reactor_, z.io, 15 << 9, 512);
  EXPECT_EQ(z.wait(reactor_), -ENOSPC);
  Op d;
  b->deallocate(reactor_, d.io, 15 << 9, 512);
  EXPECT_EQ(d.wait(reactor_), 0) << "deallocate needs no space";
  EXPECT_EQ(read_lba(*b, 10), 0);
  const nvme::Status st = target::backend_status(-ENOSPC, target::BackendOp::write);
  EXPECT_EQ(st.sct(), NVME_SCT_GENERIC);
  EXPECT_EQ(st.sc(), NVME_SC_CAP_EXCEEDED);
  EXPECT_TRUE(st.dnr());
}

TEST_F(FaultBackendTest, DataOfUnselectedCommandsReachesTheWrappedBackend) {
  auto b = wrap("read_error=lba:0");
  std::memset(buffer_.data(), 0x5A, 512);
  ASSERT_EQ(write_lba(*b, 3), 0);
  std::memset(buffer_.data(), 0, 512);
  ASSERT_EQ(read_lba(*b, 3), 0);
  EXPECT_EQ(buffer_[0], std::byte{0x5A});
  EXPECT_EQ(buffer_[511], std::byte{0x5A});
  EXPECT_EQ(b->size_bytes(), ram_->size_bytes());
  EXPECT_NE(b->describe().find("read_error=lba:0"), std::string::npos);
}

TEST_F(FaultBackendTest, ProbabilityZeroNeverOneAlwaysHalfSometimes) {
  auto never = wrap("read_error=p:0");
  auto always = wrap("read_error=p:1");
  auto half = wrap("read_error=p:0.5");
  int failed = 0;
  for (int i = 0; i < 400; ++i) {
    EXPECT_EQ(read_lba(*never, i), 0);
    EXPECT_EQ(read_lba(*always, i), -EIO);
    failed += read_lba(*half, i) != 0;
  }
  EXPECT_GT(failed, 140);
  EXPECT_LT(failed, 260);
}

TEST_F(FaultBackendTest, DelayWaitsOnTheReactorWhileOtherIoCompletes) {
  auto b = wrap("delay_us=30000@lba:0-9,read_error=lba:5");
  const auto start = Clock::now();
  Op slow, failing, quick;
  b->read(reactor_, slow.io, 0, buffer_.data(), 512);
  b->read(reactor_, failing.io, 5 << 9, buffer_.data() + 512, 512);
  b->read(reactor_, quick.io, 100 << 9, buffer_.data() + 1024, 512);
  EXPECT_FALSE(slow.done) << "a delayed command must not complete inline";
  EXPECT_FALSE(failing.done);
  EXPECT_TRUE(quick.done) << "commands outside the selection are not held up";
  EXPECT_EQ(slow.wait(reactor_), 0);
  EXPECT_EQ(failing.wait(reactor_), -EIO) << "a delayed command still gets its injected error";
  EXPECT_GE(slow.finished - start, std::chrono::milliseconds(30));
  EXPECT_GE(failing.finished - start, std::chrono::milliseconds(30));
  Op flush;
  b->flush(reactor_, flush.io);
  EXPECT_TRUE(flush.done) << "an LBA selector never picks a flush";
}

TEST(FaultSpecTest, ParsesEverySelectorAndRefusesNonsense) {
  auto s = target::parse_fault_spec("read_error=lba:1000-1999,write_nospace=every:100,delay_us=500@p:0.1");
  ASSERT_TRUE(s.read_error && s.write_nospace && s.delay);
  EXPECT_EQ(s.read_error->kind, target::FaultSelector::Kind::lba);
  EXPECT_EQ(s.read_error->first_lba, 1000u);
  EXPECT_EQ(s.read_error->last_lba, 1999u);
  EXPECT_EQ(s.write_nospace->every, 100u);
  EXPECT_EQ(s.delay->kind, target::FaultSelector::Kind::probability);
  EXPECT_EQ(s.delay_us, 500u);
  EXPECT_FALSE(s.write_error);
  EXPECT_EQ(target::parse_fault_spec("delay_us=10").delay->kind, target::FaultSelector::Kind::all);
  EXPECT_EQ(target::parse_fault_spec("write_error=all").write_error->kind, target::FaultSelector::Kind::all);
  for (const char* bad : {"", "read_error", "read_error=lba:9-1", "read_error=lba:x", "write_error=every:0",
                          "read_error=p:1.5", "read_error=p:", "delay_us=0", "delay_us=60000001",
                          "read_error=all,read_error=lba:1", "explode=all", "read_error=sometimes"})
    EXPECT_THROW(target::parse_fault_spec(bad), std::invalid_argument) << bad;
}

TEST(FaultConfigTest, FaultPrefixWrapsAnyBackendAndRefusalsNameTheField) {
  auto ns = target::parse_namespace("fault:ram:1M?read_error=lba:1-2,delay_us=100", 512);
  EXPECT_EQ(ns.kind, target::BackendKind::ram);
  EXPECT_EQ(ns.size, 1u << 20);
  EXPECT_EQ(ns.faults, "read_error=lba:1-2,delay_us=100");
  EXPECT_EQ(target::parse_namespace("fault:file:/tmp/x?write_error=all", 512).path, "/tmp/x");
  EXPECT_THROW(target::parse_namespace("fault:ram:1M", 512), std::invalid_argument);
  EXPECT_THROW(target::parse_namespace("fault:ram:1M?bogus=1", 512), std::invalid_argument);

  target::NamespaceConfig nvme_ns;
  nvme_ns.kind = target::BackendKind::nvme;
  nvme_ns.path = "/dev/ng0n1";
  nvme_ns.faults = "read_error=all";
  try {
    target::validate_namespace(nvme_ns, "subsystems[0].namespaces[0]");
    FAIL() << "faults on a passthrough namespace were accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "subsystems[0].namespaces[0].faults");
  }
  target::NamespaceConfig bad = ns;
  bad.faults = "read_error=lba:5-1";
  EXPECT_THROW(target::validate_namespace(bad, "ns"), target::ConfigError);

  ns.nsid = 1;
  auto served = target::make_namespace("nqn.2024-01.io.nvmf:fault", ns);
  ASSERT_NE(dynamic_cast<const target::FaultBackend*>(served->backend.get()), nullptr);
  EXPECT_EQ(served->blocks, (1u << 20) / 512);
}

TEST(FaultConfigTest, JsonFaultsAndSendTimeoutRoundTripAndBadOnesAreLocated) {
  const nlohmann::json doc = {
      {"listeners", {"tcp:127.0.0.1:4420"}},
      {"send_timeout_ms", 1500},
      {"subsystems",
       {{{"nqn", "nqn.2024-01.io.nvmf:f"},
         {"namespaces", {{{"backend", "ram"}, {"size", "1M"}, {"faults", "write_nospace=every:10"}}}}}}}};
  target::LoadedConfig loaded = target::parse_config(doc, "t.json");
  EXPECT_EQ(loaded.config.limits.send_timeout_ms, 1500u);
  ASSERT_EQ(loaded.config.subsystems[0].namespaces[0].faults, "write_nospace=every:10");
  const nlohmann::json saved = target::to_json(loaded.config);
  EXPECT_EQ(saved["send_timeout_ms"], 1500);
  EXPECT_EQ(saved["subsystems"][0]["namespaces"][0]["faults"], "write_nospace=every:10");

  nlohmann::json bad = doc;
  bad["subsystems"][0]["namespaces"][0]["faults"] = "write_nospace=every:0";
  target::LoadedConfig refused = target::parse_config(bad, "t.json");
  try {
    refused.config.validate();
    FAIL() << "a bad fault list was accepted";
  } catch (const target::ConfigError& e) {
    EXPECT_NE(target::locate(e, refused).field().find("/subsystems/0/namespaces/0/faults"), std::string::npos)
        << target::locate(e, refused).what();
  }
  target::TargetConfig timeout = loaded.config;
  timeout.limits.send_timeout_ms = 50;
  EXPECT_THROW(timeout.validate(), target::ConfigError);
}

}  // namespace
}  // namespace nvmf::test
