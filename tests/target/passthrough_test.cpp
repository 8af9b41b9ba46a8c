// NVMe passthrough without a drive: the SQE -> nvme_uring_cmd mapping, the status mapping, the probe's refusals,
// and the I/O queue's forwarding path through the QueueHandler seam with a backend standing in for the drive.
// (The real drive is exercised in the VM: tests/interop/target_backends_drive.sh.)
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "target/backends/nvme_passthrough_backend.hpp"
#include "target/namespace_factory.hpp"
#include "target_fixture.hpp"
#include "temp_file.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint32_t kFua = 1u << 30;

nvme::Sqe host_sqe(std::uint8_t opcode) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.flags = 0x40;  // PSDT: SGL, as every fabrics command carries; the drive's kernel driver picks its own
  s.cid = 0x1234;
  s.nsid = 7;  // the exported NSID: replaced by the drive's
  s.cdw2 = 0x22222222;
  s.cdw3 = 0x33333333;
  s.mptr = 0xdeadbeef;
  s.cdw10 = 0xAAAA0010;
  s.cdw11 = 0x00000001;
  s.cdw12 = 0x0000000F;
  s.cdw13 = 0x13131313;
  s.cdw14 = 0x14141414;
  s.cdw15 = 0x15151515;
  return s;
}

TEST(PassthroughCommand, CopiesOpcodeAndDwordsWithTheDrivesNsid) {
  std::array<std::byte, 8192> buf{};
  for (std::uint8_t op : {nvme_cmd_read, nvme_cmd_write, nvme_cmd_compare}) {
    const nvme::Sqe sqe = host_sqe(op);
    const nvme_uring_cmd c = target::make_passthrough_command(sqe, 3, buf.data(), 8192, false);
    EXPECT_EQ(c.opcode, op);
    EXPECT_EQ(c.flags, 0);  // no PSDT/FUSE from the host: the kernel refuses flags
    EXPECT_EQ(c.nsid, 3u);
    EXPECT_EQ(c.cdw2, 0x22222222u);
    EXPECT_EQ(c.cdw3, 0x33333333u);
    EXPECT_EQ(c.metadata, 0u);
    EXPECT_EQ(c.metadata_len, 0u);
    EXPECT_EQ(c.addr, reinterpret_cast<std::uintptr_t>(buf.data()));
    EXPECT_EQ(c.data_len, 8192u);
    EXPECT_EQ(c.cdw10, 0xAAAA0010u);
    EXPECT_EQ(c.cdw11, 1u);
    EXPECT_EQ(c.cdw12, 0xFu);
    EXPECT_EQ(c.cdw13, 0x13131313u);
    EXPECT_EQ(c.cdw14, 0x14141414u);
    EXPECT_EQ(c.cdw15, 0x15151515u);
    EXPECT_EQ(c.timeout_ms, 0u);
  }
}

TEST(PassthroughCommand, FuaIsForcedOnWritesOnly) {
  std::array<std::byte, 512> buf{};
  EXPECT_EQ(target::make_passthrough_command(host_sqe(nvme_cmd_write), 1, buf.data(), 512, true).cdw12, 0xFu | kFua);
  EXPECT_EQ(target::make_passthrough_command(host_sqe(nvme_cmd_read), 1, buf.data(), 512, true).cdw12, 0xFu);
  // The host's own FUA goes through untouched.
  nvme::Sqe w = host_sqe(nvme_cmd_write);
  w.cdw12 |= kFua;
  EXPECT_EQ(target::make_passthrough_command(w, 1, buf.data(), 512, false).cdw12, 0xFu | kFua);
}

TEST(PassthroughCommand, NoDataCommandsCarryNoBuffer) {
  for (std::uint8_t op : {nvme_cmd_flush, nvme_cmd_write_zeroes}) {
    const nvme_uring_cmd c = target::make_passthrough_command(host_sqe(op), 9, nullptr, 0, false);
    EXPECT_EQ(c.opcode, op);
    EXPECT_EQ(c.nsid, 9u);
    EXPECT_EQ(c.addr, 0u);
    EXPECT_EQ(c.data_len, 0u);
  }
  std::array<std::byte, 32> ranges{};
  const nvme_uring_cmd dsm = target::make_passthrough_command(host_sqe(nvme_cmd_dsm), 9, ranges.data(), 32, false);
  EXPECT_EQ(dsm.data_len, 32u);
  EXPECT_EQ(dsm.cdw11, 1u);
}

TEST(PassthroughStatus, DriveStatusUnchangedSubmissionErrorsAreInternal) {
  EXPECT_TRUE(target::forwarded_status(0).ok());
  // cqe->res carries the status field without the phase bit: SC | SCT << 8 | CRD | More | DNR << 14.
  const std::uint16_t unrecovered_read = NVME_SC_READ_ERROR | NVME_SCT_MEDIA << 8;
  EXPECT_EQ(target::forwarded_status(unrecovered_read).value(), unrecovered_read);
  const std::uint16_t lba_range_dnr = NVME_SC_LBA_RANGE | NVME_SC_DNR;
  EXPECT_EQ(target::forwarded_status(lba_range_dnr), nvme::Status::generic(NVME_SC_LBA_RANGE));
  const std::uint16_t with_crd = NVME_SC_NS_NOT_READY | 1 << 11;
  EXPECT_EQ(target::forwarded_status(with_crd).value(), with_crd);
  for (int err : {-EIO, -EINVAL, -EINTR, -ENOMEM}) {
    const nvme::Status st = target::forwarded_status(err);
    EXPECT_EQ(st.sct(), NVME_SCT_GENERIC);
    EXPECT_EQ(st.sc(), NVME_SC_INTERNAL);
    EXPECT_FALSE(st.dnr());  // the host may retry
  }
}

std::string open_error(const std::string& path) {
  try {
    target::NvmePassthroughBackend backend(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(PassthroughProbe, RefusesWhatIsNotAnNvmeNamespace) {
  EXPECT_NE(open_error("/nonexistent/ng0n1").find("cannot open"), std::string::npos);
  TempFile file(1 << 20);
  const std::string regular = open_error(file.path());
  EXPECT_NE(regular.find(file.path()), std::string::npos);
  EXPECT_NE(regular.find("not a character device"), std::string::npos);
  EXPECT_NE(open_error("/dev/null").find("not an NVMe namespace"), std::string::npos);

  // Through the factory: a ConfigError on the path field.
  target::NamespaceConfig nc;
  nc.kind = target::BackendKind::nvme;
  nc.path = "/dev/null";
  nc.nsid = 1;
  try {
    target::make_namespace("nqn.2024-01.io.nvmf:pt", nc);
    ADD_FAILURE() << "/dev/null accepted as an NVMe namespace";
  } catch (const target::ConfigError& e) {
    EXPECT_EQ(e.field(), "path");
    EXPECT_EQ(e.value(), "/dev/null");
  }
}

// Stands in for the drive: records what the I/O queue forwards and completes with `result` on a later turn.
class FakeDrive final : public target::Backend {
 public:
  static constexpr std::uint64_t kBlocks = 2048;
  FakeDrive() {
    std::memset(&id_, 0, sizeof id_);
    id_.nsze = id_.ncap = id_.nuse = kBlocks;
    id_.lbaf[0].ds = 9;
    id_.dlfeat = 1;
    id_.nows = 7;  // something only the drive knows
    id_.anagrpid = 5;
    std::memset(id_.nguid, 0xEE, sizeof id_.nguid);
  }
  std::uint64_t size_bytes() const override { return kBlocks * 512; }
  std::string describe() const override { return "fake drive"; }
  std::uint32_t block_size() const override { return 512; }
  const nvme_id_ns* identify_namespace() const override { return &id_; }
  bool forwards_commands() const override { return true; }
  void forward(fabric::Reactor& r, target::BackendIo& io, const nvme::Sqe& sqe, std::byte* data, std::uint32_t length,
               bool fua) override {
    ++forwarded;
    last = target::make_passthrough_command(sqe, 42, data, length, fua);
    if (sqe.opcode == nvme_cmd_read && data) std::memset(data, 0x5A, length);
    if (data && sqe.opcode != nvme_cmd_read) received.assign(data, data + length);
    int res = result;
    r.defer([&io, res] { io.done(io, res); });
  }
  void read(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::byte*, std::uint32_t) override { unused(io); }
  void write(fabric::Reactor&, target::BackendIo& io, std::uint64_t, const std::byte*, std::uint32_t, bool) override {
    unused(io);
  }
  // Set Features 06h = 0 flushes every namespace through the byte-range interface (the real backend sends Flush).
  void flush(fabric::Reactor& r, target::BackendIo& io) override {
    ++flushes;
    r.defer([&io] { io.done(io, 0); });
  }
  void write_zeroes(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::uint64_t) override { unused(io); }
  void deallocate(fabric::Reactor&, target::BackendIo& io, std::uint64_t, std::uint64_t) override { unused(io); }
  int sync() override { return 0; }

  int result = 0;
  int forwarded = 0;
  int byte_range_calls = 0;
  int flushes = 0;
  nvme_uring_cmd last{};
  std::vector<std::byte> received;

 private:
  void unused(target::BackendIo& io) {
    ++byte_range_calls;  // a forwarding namespace must never be driven through the byte-range operations
    io.done(io, -EIO);
  }
  nvme_id_ns id_;
};

class ForwardingTest : public TargetTest {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<target::Registry>(target::ControllerSettings{});
    auto ns = std::make_shared<target::Namespace>();
    ns->nsid = 1;
    ns->backend = drive_ = std::make_shared<FakeDrive>();
    ns->blocks = FakeDrive::kBlocks;
    ns->ids = target::derive_namespace_ids(kSubNqn, 1);
    ids_ = ns->ids;
    std::vector<std::shared_ptr<const target::Namespace>> list{ns};
    registry_->add_subsystem(std::make_shared<target::Subsystem>(
        target::SubsystemKind::nvm, target::SubsystemIdentity{kSubNqn, "SN", "M", "F"}, std::vector<std::string>{},
        std::make_shared<const target::NamespaceTable>(list)));
    factory_ = std::make_unique<target::SessionFactory>(registry_);
    admin_ = new_queue();
    auto cntlid = connect_and_enable(*admin_);
    io_ = new_queue();
    ASSERT_TRUE(connect_io(*io_, cntlid, 1).status().ok());
  }
  void TearDown() override { EXPECT_EQ(drive_->byte_range_calls, 0); }
  std::shared_ptr<FakeDrive> drive_;
  target::NamespaceIds ids_;
  std::unique_ptr<FakeQueue> admin_, io_;
};

TEST_F(ForwardingTest, ReadAndWriteGoToTheDriveWithTheRequestBuffer) {
  auto r = io_->run(io_sqe(nvme_cmd_read, 1, 100, 8), 4096);
  ASSERT_TRUE(r.status().ok()) << r.status().to_string();
  EXPECT_EQ(drive_->last.opcode, nvme_cmd_read);
  EXPECT_EQ(drive_->last.nsid, 42u);
  EXPECT_EQ(drive_->last.cdw10, 100u);
  EXPECT_EQ(drive_->last.cdw12, 7u);
  EXPECT_EQ(drive_->last.data_len, 4096u);
  ASSERT_EQ(r.data.size(), 4096u);
  EXPECT_EQ(r.data[4095], std::byte{0x5A});

  std::vector<std::byte> data(1024, std::byte{0x33});
  auto w = io_->run(io_sqe(nvme_cmd_write, 1, 8, 2, kFua), 1024, data.data(), false);
  ASSERT_TRUE(w.status().ok());
  EXPECT_EQ(drive_->last.opcode, nvme_cmd_write);
  EXPECT_EQ(drive_->last.cdw12, 1u | kFua);
  EXPECT_EQ(drive_->received, data);
}

TEST_F(ForwardingTest, DriveStatusReachesTheHostUnchanged) {
  drive_->result = NVME_SC_READ_ERROR | NVME_SCT_MEDIA << 8;  // no DNR: the drive allows a retry
  auto r = io_->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_EQ(r.status().value(), NVME_SC_READ_ERROR | NVME_SCT_MEDIA << 8);
  drive_->result = NVME_SC_COMPARE_FAILED | NVME_SCT_MEDIA << 8 | NVME_SC_DNR;
  std::vector<std::byte> data(512);
  auto c = io_->run(io_sqe(nvme_cmd_compare, 1, 0, 1), 512, data.data());
  EXPECT_EQ(c.status(), nvme::Status::media(NVME_SC_COMPARE_FAILED));
  EXPECT_EQ(drive_->last.opcode, nvme_cmd_compare);
  drive_->result = -EIO;
  auto f = io_->run(io_sqe(nvme_cmd_flush, 1, 0, 1));
  EXPECT_TRUE(f.status().same_code(nvme::Status::generic(NVME_SC_INTERNAL)));
  EXPECT_FALSE(f.status().dnr());
  drive_->result = 0;
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512).status().ok());  // still serving
}

TEST_F(ForwardingTest, LocalChecksStillApply) {
  const int before = drive_->forwarded;
  auto r = io_->run(io_sqe(nvme_cmd_read, 1, FakeDrive::kBlocks, 1), 512);
  EXPECT_EQ(r.status(), nvme::Status::generic(NVME_SC_LBA_RANGE));
  auto bad_sgl = io_->run(io_sqe(nvme_cmd_read, 1, 0, 2), 512);  // SGL shorter than NLB blocks
  EXPECT_EQ(bad_sgl.status(), nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  auto bad_op = io_->run(io_sqe(0x7E, 1, 0, 1));
  EXPECT_EQ(bad_op.status(), nvme::Status::generic(NVME_SC_INVALID_OPCODE));
  EXPECT_EQ(drive_->forwarded, before);
}

TEST_F(ForwardingTest, ZeroesDsmAndDisabledWriteCache) {
  auto z = io_->run(io_sqe(nvme_cmd_write_zeroes, 1, 16, 64, 1u << 25));
  ASSERT_TRUE(z.status().ok());
  EXPECT_EQ(drive_->last.opcode, nvme_cmd_write_zeroes);
  EXPECT_EQ(drive_->last.cdw12, 63u | 1u << 25);
  EXPECT_EQ(drive_->last.data_len, 0u);

  std::vector<std::byte> ranges(32);
  nvme_dsm_range r0{0, 8, 100}, r1{0, 16, 300};
  std::memcpy(ranges.data(), &r0, 16);
  std::memcpy(ranges.data() + 16, &r1, 16);
  nvme::Sqe dsm = admin_sqe(nvme_cmd_dsm, 1, 1, NVME_DSMGMT_AD);
  ASSERT_TRUE(io_->run(dsm, 32, ranges.data()).status().ok());
  EXPECT_EQ(drive_->last.opcode, nvme_cmd_dsm);
  EXPECT_EQ(drive_->last.cdw10, 1u);
  EXPECT_EQ(drive_->last.data_len, 32u);
  EXPECT_EQ(drive_->received, ranges);

  // Set Features Volatile Write Cache = 0: every forwarded Write carries FUA.
  ASSERT_TRUE(admin_->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_VOLATILE_WC, 0)).status().ok());
  std::vector<std::byte> data(512);
  ASSERT_TRUE(io_->run(io_sqe(nvme_cmd_write, 1, 0, 1), 512, data.data()).status().ok());
  EXPECT_EQ(drive_->last.cdw12 & kFua, kFua);
}

TEST_F(ForwardingTest, IdentifyNamespaceIsTheDrivesUnderOurIdentity) {
  auto c = admin_->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096);
  ASSERT_TRUE(c.status().ok());
  auto id = as<nvme_id_ns>(c);
  EXPECT_EQ(id.nsze, FakeDrive::kBlocks);
  EXPECT_EQ(id.nows, 7);
  EXPECT_EQ(id.dlfeat, 1);
  EXPECT_EQ(id.anagrpid, 1u);  // ours (the default group), not the drive's 5
  EXPECT_EQ(id.nmic, NVME_NS_NMIC_SHARED);
  EXPECT_EQ(std::memcmp(id.nguid, ids_.nguid.data(), 16), 0);
  EXPECT_EQ(std::memcmp(id.eui64, ids_.eui64.data(), 8), 0);
}

}  // namespace
}  // namespace nvmf::test
