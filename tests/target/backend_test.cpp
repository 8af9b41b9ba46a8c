// Backends on their own: O_DIRECT probing, the write-zeroes and deallocate fallbacks on tmpfs, size checks.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include <cstdio>
#include <fstream>

#include "target/backends/block_backend.hpp"
#include "target/backends/file_backend.hpp"
#include "target/backends/null_backend.hpp"
#include "target/backends/ram_backend.hpp"
#include "target_fixture.hpp"
#include "temp_file.hpp"

namespace nvmf::test {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

struct Op {
  target::BackendIo io;
  int result = 1;
  bool done = false;
  Op() {
    io.context = this;
    io.done = [](target::BackendIo& i, int res) {
      auto* self = static_cast<Op*>(i.context);
      self->result = res;
      self->done = true;
    };
  }
  int wait(fabric::Reactor& r) {
    for (int i = 0; i < 1000 && !done; ++i) r.run_once(std::chrono::milliseconds(5));
    return result;
  }
};

std::byte* aligned(std::size_t n) { return static_cast<std::byte*>(std::aligned_alloc(4096, n)); }

void exercise(target::Backend& b, fabric::Reactor& r) {
  const std::size_t n = 64 * 1024;
  std::byte* buf = aligned(n);
  std::memset(buf, 0x77, n);
  Op w;
  b.write(r, w.io, 0, buf, n, true);
  ASSERT_EQ(w.wait(r), 0);
  Op z;
  b.write_zeroes(r, z.io, 4096, 8192);
  ASSERT_EQ(z.wait(r), 0);
  Op d;
  b.deallocate(r, d.io, 32768, 4096);
  ASSERT_EQ(d.wait(r), 0);
  Op f;
  b.flush(r, f.io);
  ASSERT_EQ(f.wait(r), 0);
  std::memset(buf, 0xEE, n);
  Op rd;
  b.read(r, rd.io, 0, buf, n);
  ASSERT_EQ(rd.wait(r), 0);
  for (std::size_t i = 0; i < n; ++i) {
    bool zero = (i >= 4096 && i < 12288) || (i >= 32768 && i < 36864);
    ASSERT_EQ(buf[i], zero ? std::byte{0} : std::byte{0x77}) << i;
  }
  // Unaligned memory goes through the buffered descriptor and still works.
  Op u;
  b.read(r, u.io, 0, buf + 8, 512);
  EXPECT_EQ(u.wait(r), 0);
  EXPECT_EQ(buf[8], std::byte{0x77});
  EXPECT_EQ(b.sync(), 0);
  std::free(buf);
}

TEST(FileBackendTest, DirectIoOnRegularFileSystem) {
  TempFile f(1 << 20);
  target::FileBackend b(f.path(), 512);
  EXPECT_EQ(b.size_bytes(), 1u << 20);
  fabric::Reactor r(0);
  exercise(b, r);
  struct statfs fs {};
  statfs("/tmp", &fs);
  if (fs.f_type != kTmpfsMagic) {
    EXPECT_TRUE(b.direct()) << b.describe();
  }
}

// tmpfs has no FALLOC_FL_ZERO_RANGE, so Write Zeroes takes the write-zeroes fallback; before Linux 6.6 it also
// refuses O_DIRECT, so I/O is buffered there.
TEST(FileBackendTest, TmpfsWriteZeroesFallback) {
  struct statfs fs {};
  if (statfs("/dev/shm", &fs) != 0 || fs.f_type != kTmpfsMagic) GTEST_SKIP() << "no tmpfs at /dev/shm";
  TempFile f(1 << 20, "/dev/shm");
  target::FileBackend b(f.path(), 4096);
  fabric::Reactor r(0);
  exercise(b, r);
}

TEST(FileBackendTest, RefusesBadFiles) {
  TempFile odd(1000);
  EXPECT_THROW(target::FileBackend(odd.path(), 512), std::runtime_error);
  TempFile empty(0);
  EXPECT_THROW(target::FileBackend(empty.path(), 512), std::runtime_error);
  TempFile not4k(4096 + 512);
  EXPECT_THROW(target::FileBackend(not4k.path(), 4096), std::runtime_error);
  EXPECT_THROW(target::FileBackend("/nonexistent/file", 512), std::runtime_error);
  try {
    target::FileBackend b(odd.path(), 512);
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(odd.path()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("multiple of the block size"), std::string::npos);
  }
}

/// A loop device over a temporary file (root only; empty path when losetup is unavailable).
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& backing) {
    if (geteuid() != 0) return;
    FILE* p = popen(("losetup -f --show " + backing + " 2>/dev/null").c_str(), "r");
    if (!p) return;
    char line[128] = {};
    if (std::fgets(line, sizeof line, p)) path_ = std::string(line, strcspn(line, "\n"));
    if (pclose(p) != 0) path_.clear();
  }
  ~LoopDevice() {
    if (!path_.empty() && std::system(("losetup -d " + path_).c_str()) != 0) ADD_FAILURE() << "losetup -d " << path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::uint64_t allocated_bytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? std::uint64_t(st.st_blocks) * 512 : 0;
}

TEST(BlockBackendTest, LoopDeviceDiscardsAndZeroes) {
  constexpr std::size_t kMiB = 1 << 20;
  TempFile file(4 * kMiB, "/var/tmp");  // a disk file system: tmpfs would hide allocation changes
  LoopDevice loop(file.path());
  if (loop.path().empty()) GTEST_SKIP() << "no loop device (needs root and losetup)";
  fabric::Reactor reactor(0);
  auto backend = target::open_block_device(loop.path());
  EXPECT_EQ(backend->size_bytes(), 4 * kMiB);
  EXPECT_EQ(backend->block_size(), 512u);
  // A discard promises nothing about the data read afterwards: DLFEAT must not claim zeroes.
  EXPECT_FALSE(backend->deallocate_reads_zeroes());
  ASSERT_NE(backend->describe().find(" discard"), std::string::npos) << backend->describe();

  std::byte* buf = aligned(kMiB);
  std::memset(buf, 0x6B, kMiB);
  for (std::uint64_t off = 0; off < 2 * kMiB; off += kMiB) {
    Op w;
    backend->write(reactor, w.io, off, buf, kMiB, true);
    ASSERT_EQ(w.wait(reactor), 0);
  }
  Op f;
  backend->flush(reactor, f.io);
  ASSERT_EQ(f.wait(reactor), 0);
  const std::uint64_t before = allocated_bytes(file.path());
  ASSERT_GE(before, 2 * kMiB);
  // Deallocate the second MiB: the loop driver punches it out of the backing file.
  Op d;
  backend->deallocate(reactor, d.io, kMiB, kMiB);
  EXPECT_FALSE(d.done) << "BLKDISCARD runs on the backend's worker, never inline on the reactor";
  ASSERT_EQ(d.wait(reactor), 0);
  EXPECT_LE(allocated_bytes(file.path()), before - kMiB) << "the discard did not reach the device";
  // Write Zeroes zeroes (BLKZEROOUT semantics) whatever the device's discard does.
  Op z;
  backend->write_zeroes(reactor, z.io, 4096, 8192);
  ASSERT_EQ(z.wait(reactor), 0);
  Op rd;
  backend->read(reactor, rd.io, 0, buf, kMiB);
  ASSERT_EQ(rd.wait(reactor), 0);
  for (std::size_t i = 0; i < kMiB; ++i) {
    const bool zero = i >= 4096 && i < 12288;
    ASSERT_EQ(buf[i], zero ? std::byte{0} : std::byte{0x6B}) << i;
  }
  std::free(buf);
  backend.reset();  // joins the worker while the loop device still exists
}

TEST(BlockBackendTest, DiscardSupportFromSysfs) {
  struct stat st {};
  if (stat("/dev/loop0", &st) != 0 || !S_ISBLK(st.st_mode)) GTEST_SKIP() << "no /dev/loop0";
  std::ifstream f("/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)) +
                  "/queue/discard_max_bytes");
  std::uint64_t max_bytes = 0;
  if (!(f >> max_bytes)) GTEST_SKIP() << "no sysfs";
  EXPECT_EQ(target::block_device_discards(st.st_rdev), max_bytes > 0);
  // A device number sysfs does not know: assumed able, the first EOPNOTSUPP decides.
  EXPECT_TRUE(target::block_device_discards(makedev(4095, 1048575)));
}

TEST(RamBackendTest, ZeroedAndZeroesAfterDeallocate) {
  target::RamBackend b(1 << 20);
  fabric::Reactor r(0);
  exercise(b, r);
}

TEST(NullBackendTest, ReadsZeroesDiscardsWrites) {
  target::NullBackend b(1 << 20);
  fabric::Reactor r(0);
  std::vector<std::byte> buf(4096, std::byte{9});
  Op w;
  b.write(r, w.io, 0, buf.data(), 4096, false);
  EXPECT_TRUE(w.done);  // inline
  Op rd;
  b.read(r, rd.io, 0, buf.data(), 4096);
  EXPECT_TRUE(rd.done);
  EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](std::byte x) { return x == std::byte{0}; }));
}

}  // namespace
}  // namespace nvmf::test
