// Backends on their own: O_DIRECT probing, the write-zeroes and deallocate fallbacks on tmpfs, size checks.
#include <sys/stat.h>
#include <sys/vfs.h>

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
