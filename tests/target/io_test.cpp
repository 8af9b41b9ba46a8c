// I/O commands through the QueueHandler seam, with data verified, on the RAM and file backends; status
// mapping of backend errors with an error-injecting backend.
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "target/backends/file_backend.hpp"
#include "target_fixture.hpp"
#include "temp_file.hpp"

namespace nvmf::test {
namespace {

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed * 7 + i / 512) & 0xFF);
  return v;
}

bool all_zero(const std::vector<std::byte>& v) {
  return std::all_of(v.begin(), v.end(), [](std::byte b) { return b == std::byte{0}; });
}

enum class Kind { ram, file };

class IoTest : public TargetTest, public ::testing::WithParamInterface<std::tuple<Kind, std::uint32_t>> {
 protected:
  void SetUp() override {
    auto [kind, block] = GetParam();
    block_ = block;
    target::SubsystemConfig s;
    s.nqn = kSubNqn;
    target::NamespaceConfig ns;
    ns.block_size = block;
    if (kind == Kind::ram) {
      ns.kind = target::BackendKind::ram;
      ns.size = kSize;
    } else {
      file_ = std::make_unique<TempFile>(kSize);
      ns.kind = target::BackendKind::file;
      ns.path = file_->path();
    }
    s.namespaces.push_back(ns);
    make_registry({s});
    admin_ = new_queue();
    auto cntlid = connect_and_enable(*admin_);
    io_ = new_queue();
    ASSERT_TRUE(connect_io(*io_, cntlid, 1).status().ok());
  }

  Completion write(std::uint64_t lba, const std::vector<std::byte>& data, std::uint32_t flags = 0,
                   bool in_capsule = true) {
    auto n = static_cast<std::uint32_t>(data.size() / block_);
    return io_->run(io_sqe(nvme_cmd_write, 1, lba, n, flags), static_cast<std::uint32_t>(data.size()), data.data(),
                    in_capsule);
  }
  /// Writes in chunks within MDTS.
  void write_all(std::uint64_t lba, const std::vector<std::byte>& data) {
    const std::size_t chunk = 16 * block_;
    for (std::size_t off = 0; off < data.size(); off += chunk) {
      std::vector<std::byte> part(data.begin() + off, data.begin() + std::min(data.size(), off + chunk));
      ASSERT_TRUE(write(lba + off / block_, part).status().ok());
    }
  }
  std::vector<std::byte> read_all(std::uint64_t lba, std::uint32_t blocks) {
    std::vector<std::byte> out;
    for (std::uint32_t done = 0; done < blocks; done += 16) {
      auto r = read(lba + done, std::min(16u, blocks - done));
      EXPECT_TRUE(r.status().ok());
      out.insert(out.end(), r.data.begin(), r.data.end());
    }
    return out;
  }
  Completion read(std::uint64_t lba, std::uint32_t blocks) {
    return io_->run(io_sqe(nvme_cmd_read, 1, lba, blocks), blocks * block_);
  }

  static constexpr std::uint64_t kSize = 4 << 20;
  std::uint32_t block_ = 512;
  std::unique_ptr<TempFile> file_;
  std::unique_ptr<FakeQueue> admin_, io_;
};

TEST_P(IoTest, WriteThenReadBack) {
  auto data = pattern(16 * block_, 1);
  auto w = write(10, data, 0, /*in_capsule=*/false);  // fetched (R2T path)
  ASSERT_TRUE(w.status().ok()) << w.status().to_string();
  EXPECT_EQ(io_->fetch_count(), 1u);
  auto r = read(10, 16);
  ASSERT_TRUE(r.status().ok()) << r.status().to_string();
  EXPECT_EQ(r.data, data);
  // In-capsule write with FUA.
  auto small = pattern(block_, 2);
  ASSERT_TRUE(write(0, small, 1u << 30).status().ok());
  EXPECT_EQ(read(0, 1).data, small);
  // Unwritten blocks read as zeroes.
  EXPECT_TRUE(all_zero(read(100, 4).data));
}

// In-capsule data lent from the transport's receive buffer (ControllerRequest::data_borrowed), which the fake
// transport overwrites as soon as on_command returns: a RAM write copies it inline, every command that holds
// it longer (the file backend's io_uring write, a compare) keeps a copy first. A missing copy reads back 0xEE.
TEST_P(IoTest, BorrowedInCapsuleDataIsCopiedOnlyWhereTheCommandOutlivesTheCall) {
  const bool ram = std::get<0>(GetParam()) == Kind::ram;
  io_->set_borrows_in_capsule_data(true);
  auto data = pattern(4 * block_, 5);
  ASSERT_TRUE(write(7, data).status().ok());
  EXPECT_EQ(io_->kept_count(), ram ? 0u : 1u);
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_compare, 1, 7, 4), 4 * block_, data.data()).status().ok());
  EXPECT_EQ(io_->kept_count(), ram ? 1u : 2u);
  io_->set_borrows_in_capsule_data(false);
  EXPECT_EQ(read_all(7, 4), data);
}

TEST_P(IoTest, FlushSucceeds) { EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_flush, 1, 0, 1)).status().ok()); }

TEST_P(IoTest, WriteZeroesAndDeallocate) {
  auto data = pattern(64 * block_, 3);
  write_all(0, data);
  // Write Zeroes blocks 8..15.
  ASSERT_TRUE(io_->run(io_sqe(nvme_cmd_write_zeroes, 1, 8, 8)).status().ok());
  auto r = read_all(0, 64);
  EXPECT_TRUE(all_zero(std::vector<std::byte>(r.begin() + 8 * block_, r.begin() + 16 * block_)));
  EXPECT_EQ(std::vector<std::byte>(r.begin(), r.begin() + 8 * block_),
            std::vector<std::byte>(data.begin(), data.begin() + 8 * block_));
  EXPECT_EQ(r[16 * block_], data[16 * block_]);

  // DSM deallocate two ranges (blocks 20..27 and 40..63): they read back as zeroes.
  nvme_dsm_range ranges[2] = {};
  ranges[0].slba = 20;
  ranges[0].nlb = 8;
  ranges[1].slba = 40;
  ranges[1].nlb = 24;
  auto dsm = io_sqe(nvme_cmd_dsm, 1, 0, 1);
  dsm.cdw10 = 1;  // two ranges, 0's based
  dsm.cdw11 = 1u << 2;
  dsm.cdw12 = 0;
  ASSERT_TRUE(io_->run(dsm, sizeof ranges, ranges, false).status().ok());
  r = read_all(0, 64);
  EXPECT_TRUE(all_zero(std::vector<std::byte>(r.begin() + 20 * block_, r.begin() + 28 * block_)));
  EXPECT_TRUE(all_zero(std::vector<std::byte>(r.begin() + 40 * block_, r.end())));
  EXPECT_EQ(r[28 * block_], data[28 * block_]);
  EXPECT_EQ(r[19 * block_], data[19 * block_]);

  // A range past the end fails the whole command before anything is deallocated.
  ranges[0].slba = 0;
  ranges[1].slba = kSize / block_;
  EXPECT_EQ(io_->run(dsm, sizeof ranges, ranges).status().sc(), NVME_SC_LBA_RANGE);
  EXPECT_EQ(read(0, 1).data, std::vector<std::byte>(data.begin(), data.begin() + block_));
}

TEST_P(IoTest, Compare) {
  auto data = pattern(4 * block_, 4);
  ASSERT_TRUE(write(5, data).status().ok());
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_compare, 1, 5, 4), 4 * block_, data.data()).status().ok());
  data[block_ + 3] ^= std::byte{1};
  auto miscompare = io_->run(io_sqe(nvme_cmd_compare, 1, 5, 4), 4 * block_, data.data());
  EXPECT_EQ(miscompare.status().sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(miscompare.status().sc(), NVME_SC_COMPARE_FAILED);
}

TEST_P(IoTest, Refusals) {
  const std::uint64_t blocks = kSize / block_;
  EXPECT_EQ(read(blocks - 1, 2).status().sc(), NVME_SC_LBA_RANGE);
  EXPECT_EQ(read(blocks, 1).status().sc(), NVME_SC_LBA_RANGE);
  EXPECT_EQ(io_->run(io_sqe(nvme_cmd_read, 1, ~0ull - 1, 4), 4 * block_).status().sc(), NVME_SC_LBA_RANGE);
  EXPECT_EQ(io_->run(io_sqe(nvme_cmd_write_zeroes, 1, blocks - 2, 4)).status().sc(), NVME_SC_LBA_RANGE);
  // Unknown NSID, broadcast NSID.
  auto inv = io_->run(io_sqe(nvme_cmd_read, 2, 0, 1), block_);
  EXPECT_TRUE(inv.status().same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
  EXPECT_TRUE(inv.status().dnr());
  EXPECT_EQ(io_->run(io_sqe(nvme_cmd_flush, NVME_NSID_ALL, 0, 1)).status().sc(), NVME_SC_INVALID_NS);
  // Unsupported opcodes.
  for (std::uint8_t op : {std::uint8_t(nvme_cmd_write_uncor), std::uint8_t(nvme_cmd_verify), std::uint8_t(0x7E)})
    EXPECT_EQ(io_->run(io_sqe(op, 1, 0, 1)).status().sc(), NVME_SC_INVALID_OPCODE) << int(op);
  // Transfer length that does not match NLB: Data SGL Length Invalid.
  EXPECT_EQ(io_->run(io_sqe(nvme_cmd_read, 1, 0, 2), block_).status().sc(), NVME_SC_SGL_INVALID_DATA);
  // More than MDTS (128 KiB): Invalid Field.
  std::uint32_t over = (256 * 1024) / block_;
  EXPECT_EQ(io_->run(io_sqe(nvme_cmd_read, 1, 0, over), 256 * 1024).status().sc(), NVME_SC_INVALID_FIELD);
  // Property commands belong to the admin queue.
  EXPECT_EQ(io_->run(property_get(NVME_REG_CAP, true)).status().sc(), NVME_SC_INVALID_OPCODE);
  // A transfer error reported by the transport completes the command with that status.
  auto data = pattern(block_, 5);
  io_->set_auto_serve_fetches(false);
  std::size_t before = io_->completions().size();
  io_->submit(io_sqe(nvme_cmd_write, 1, 0, 1), block_, data.data(), false);
  EXPECT_EQ(io_->pending_fetches(), 1u);
  io_->serve_fetches(nvme::Status::generic(NVME_SC_DATA_XFER_ERROR));
  ASSERT_TRUE(io_->wait_for(before + 1));
  EXPECT_EQ(io_->completions().back().status().sc(), NVME_SC_DATA_XFER_ERROR);
}

TEST_P(IoTest, WriteCacheDisabledStillWrites) {
  ASSERT_TRUE(admin_->run(admin_sqe(nvme_admin_set_features, 0, NVME_FEAT_FID_VOLATILE_WC, 0)).status().ok());
  auto data = pattern(8 * block_, 6);
  ASSERT_TRUE(write(30, data).status().ok());
  EXPECT_EQ(read(30, 8).data, data);
}

TEST_P(IoTest, ManyOutstandingCommands) {
  // Queue depth worth of writes in flight at once, then verify each.
  std::vector<std::vector<std::byte>> datas;
  for (unsigned i = 0; i < 64; ++i) datas.push_back(pattern(block_, 100 + i));
  std::size_t before = io_->completions().size();
  for (unsigned i = 0; i < 64; ++i) io_->submit(io_sqe(nvme_cmd_write, 1, i, 1), block_, datas[i].data());
  ASSERT_TRUE(io_->wait_for(before + 64));
  for (std::size_t i = before; i < io_->completions().size(); ++i) EXPECT_TRUE(io_->completions()[i].status().ok());
  io_->completions().clear();
  for (unsigned i = 0; i < 64; ++i) EXPECT_EQ(read(i, 1).data, datas[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, IoTest,
                         ::testing::Combine(::testing::Values(Kind::ram, Kind::file), ::testing::Values(512u, 4096u)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == Kind::ram ? "ram" : "file") +
                                  std::to_string(std::get<1>(info.param));
                         });

// --- backend errors -------------------------------------------------------------------------------------------

/// Fails every operation with a chosen errno, inline or after a reactor turn.
class FailingBackend final : public target::Backend {
 public:
  int error = -EIO;
  std::uint64_t size_bytes() const override { return 1 << 20; }
  std::string describe() const override { return "failing"; }
  void read(fabric::Reactor& r, target::BackendIo& io, std::uint64_t, std::byte*, std::uint32_t) override { fail(r, io); }
  void write(fabric::Reactor& r, target::BackendIo& io, std::uint64_t, const std::byte*, std::uint32_t, bool) override {
    fail(r, io);
  }
  void flush(fabric::Reactor& r, target::BackendIo& io) override { fail(r, io); }
  void write_zeroes(fabric::Reactor& r, target::BackendIo& io, std::uint64_t, std::uint64_t) override { fail(r, io); }
  void deallocate(fabric::Reactor& r, target::BackendIo& io, std::uint64_t, std::uint64_t) override { fail(r, io); }
  int sync() override { return 0; }

 private:
  void fail(fabric::Reactor& r, target::BackendIo& io) {
    int e = error;
    r.defer([&io, e] { io.done(io, e); });  // complete on a later turn, as an io_uring backend would
  }
};

class BackendErrorTest : public TargetTest {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<target::Registry>(target::ControllerSettings{});
    auto ns = std::make_shared<target::Namespace>();
    ns->nsid = 1;
    ns->backend = backend_ = std::make_shared<FailingBackend>();
    ns->blocks = backend_->size_bytes() / 512;
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
  std::shared_ptr<FailingBackend> backend_;
  std::unique_ptr<FakeQueue> admin_, io_;
};

TEST_F(BackendErrorTest, ErrnoMapsToNvmeStatusAndTargetKeepsServing) {
  std::vector<std::byte> data(512, std::byte{1});
  backend_->error = -EIO;
  auto r = io_->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_EQ(r.status().sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(r.status().sc(), NVME_SC_READ_ERROR);
  auto w = io_->run(io_sqe(nvme_cmd_write, 1, 0, 1), 512, data.data());
  EXPECT_EQ(w.status().sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(w.status().sc(), NVME_SC_WRITE_FAULT);
  backend_->error = -ENOSPC;
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_write, 1, 0, 1), 512, data.data())
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_CAP_EXCEEDED)));
  backend_->error = -EROFS;
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_write_zeroes, 1, 0, 1))
                  .status()
                  .same_code(nvme::Status::generic(NVME_SC_NS_WRITE_PROTECTED)));
  backend_->error = -EINVAL;
  EXPECT_TRUE(io_->run(io_sqe(nvme_cmd_flush, 1, 0, 1)).status().same_code(nvme::Status::generic(NVME_SC_INTERNAL)));

  auto smart = as<nvme_smart_log>(admin_->run(get_log_sqe(NVME_LOG_LID_SMART, 512), 512));
  std::uint64_t media, errors;
  std::memcpy(&media, smart.media_errors, 8);
  std::memcpy(&errors, smart.num_err_log_entries, 8);
  EXPECT_EQ(media, 2u);
  EXPECT_EQ(errors, 5u);
}

// Opens `path` (which the caller made unwritable) and checks that writes are refused as write-protected.
void expect_write_protected(const std::string& path) {
  target::FileBackend backend(path, 512);
  EXPECT_TRUE(backend.read_only());
  fabric::Reactor reactor(0);
  target::BackendIo io;
  int result = 1;
  io.context = &result;
  io.done = [](target::BackendIo& done, int res) { *static_cast<int*>(done.context) = res; };
  std::vector<std::byte> data(512);
  backend.write(reactor, io, 0, data.data(), 512, false);
  EXPECT_EQ(result, -EROFS);
  EXPECT_TRUE(target::backend_status(result, target::BackendOp::write)
                  .same_code(nvme::Status::generic(NVME_SC_NS_WRITE_PROTECTED)));
}

// Root ignores file permissions (CAP_DAC_OVERRIDE), so as root the file is made unwritable the way root cannot
// ignore: a read-only bind mount of its directory, in a private mount namespace of a forked child so nothing
// outside the test sees it. The child reports through its exit status.
void expect_write_protected_on_read_only_mount(const TempFile& file) {
  const std::string dir = file.path().substr(0, file.path().rfind('/'));
  const std::string name = file.path().substr(dir.size());
  char mnt_tmpl[] = "/tmp/nvmf-ro-mount-XXXXXX";
  ASSERT_NE(mkdtemp(mnt_tmpl), nullptr) << std::strerror(errno);
  const std::string mnt = mnt_tmpl;
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(dir.c_str(), mnt.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      std::fprintf(stderr, "read-only bind mount in a private namespace: %s\n", std::strerror(errno));
      _exit(2);
    }
    expect_write_protected(mnt + name);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  rmdir(mnt.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status;
  EXPECT_NE(WEXITSTATUS(status), 2) << "could not set up the read-only mount (needs CAP_SYS_ADMIN as root)";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the backend accepted writes on a read-only mount (see the child's output)";
}

TEST(FileBackend, ReadOnlyFileIsWriteProtected) {
  TempFile f(1 << 20);
  if (geteuid() == 0) return expect_write_protected_on_read_only_mount(f);
  chmod(f.path().c_str(), 0444);
  expect_write_protected(f.path());
}

}  // namespace
}  // namespace nvmf::test
