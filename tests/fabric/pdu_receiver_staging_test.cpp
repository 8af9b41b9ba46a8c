// The PDU receiver's staging buffer is sized for the worst case (deep enough to empty the socket at QD 128) but
// costs memory only where recvs reach: a connection that carries small PDUs keeps one page of it resident, a
// deep stream of them uses the depth, and PDUs that straddle the end of a full recv arrive whole either way.
// Driven through a socketpair written in full before the receiver starts.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "fabric/anonymous_memory.hpp"
#include "fabric/reactor.hpp"
#include "fabric/tcp/codec.hpp"
#include "fabric/tcp/pdu_receiver.hpp"
#include "nvme/crc32c.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::size_t resident_pages(const AnonymousMemory& m) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((m.size() + page - 1) / page);
  EXPECT_EQ(mincore(m.data(), m.size(), v.data()), 0);
  std::size_t n = 0;
  for (unsigned char c : v) n += c & 1;
  return n;
}

/// Records each capsule's CID and in-capsule data.
class RecordingOwner final : public PduReceiver::Owner {
 public:
  struct Pdu {
    std::uint16_t cid;
    Bytes data;
    bool digest_ok;
  };
  std::vector<Pdu> pdus;
  bool failed = false;

  std::optional<FatalError> check_header(const pdu::CommonHeader&) override { return std::nullopt; }
  PduReceiver::Verdict on_header(const std::uint8_t* header, DataSink& sink, FatalError&) override {
    const auto& ch = *reinterpret_cast<const pdu::CommonHeader*>(header);
    data_.assign(received_data_length(ch), 0);
    iov_ = {data_.data(), data_.size()};
    sink = {&iov_, 1, 0};
    return PduReceiver::Verdict::accept;
  }
  void on_pdu(const std::uint8_t* header, bool digest_ok) override {
    nvme::Sqe sqe;
    std::memcpy(&sqe, header + offsetof(pdu::CapsuleCmd, sqe), sizeof sqe);
    pdus.push_back({sqe.cid, data_, digest_ok});
  }
  void on_protocol_error(const FatalError&, const std::uint8_t*, std::size_t) override { failed = true; }
  void on_connection_lost(int, bool) override {}
  void on_receiver_idle() override {}

 private:
  Bytes data_;
  iovec iov_{};
};

/// Capsule i carries 37 + i % 300 bytes of in-capsule data (never a multiple of 8), each byte derived from i.
Bytes stream_of_capsules(unsigned count) {
  Bytes out;
  for (unsigned i = 0; i < count; ++i) {
    nvme::Sqe sqe{};
    sqe.opcode = 0x01;
    sqe.cid = static_cast<std::uint16_t>(i);
    Bytes data(37 + i % 300);
    for (std::size_t j = 0; j < data.size(); ++j) data[j] = static_cast<std::uint8_t>(i * 7 + j);
    std::uint8_t head[pdu::kMaxHeaderSize];
    PduLayout l = build_capsule_cmd(head, sqe, {false, true}, static_cast<std::uint32_t>(data.size()), 4);
    out.insert(out.end(), head, head + l.header_len);
    out.insert(out.end(), l.pad_len, 0);
    out.insert(out.end(), data.begin(), data.end());
    std::uint8_t d[4];
    put_le32(d, nvme::crc32c(data.data(), data.size()));
    out.insert(out.end(), d, d + 4);
  }
  return out;
}

struct Received {
  std::vector<RecordingOwner::Pdu> pdus;
  std::size_t resident_pages = 0;
  bool failed = false;
};

Received receive(unsigned count, std::size_t staging_size) {
  const Bytes stream = stream_of_capsules(count);
  Reactor reactor(0);
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int buffer = 4 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  EXPECT_EQ(write(sv[1], stream.data(), stream.size()), static_cast<ssize_t>(stream.size()));
  RecordingOwner owner;
  Received got;
  {
    PduReceiver receiver(reactor, sv[0], owner, staging_size);
    EXPECT_EQ(resident_pages(receiver.staging()), 0u);
    receiver.start();
    for (int i = 0; i < 1000 && owner.pdus.size() < count && !owner.failed; ++i) reactor.run_once(10ms);
    got.resident_pages = resident_pages(receiver.staging());
    receiver.stop();
    shutdown(sv[0], SHUT_RDWR);
    for (int i = 0; i < 100 && receiver.busy(); ++i) reactor.run_once(10ms);
  }
  close(sv[0]);
  close(sv[1]);
  got.pdus = std::move(owner.pdus);
  got.failed = owner.failed;
  return got;
}

void expect_intact(const Received& got, unsigned count) {
  ASSERT_FALSE(got.failed);
  ASSERT_EQ(got.pdus.size(), count);
  for (unsigned i = 0; i < count; ++i) {
    const auto& p = got.pdus[i];
    ASSERT_EQ(p.cid, i);
    ASSERT_EQ(p.data.size(), 37 + i % 300) << "capsule " << i;
    for (std::size_t j = 0; j < p.data.size(); ++j)
      ASSERT_EQ(p.data[j], static_cast<std::uint8_t>(i * 7 + j)) << "capsule " << i << " byte " << j;
    EXPECT_TRUE(p.digest_ok) << "capsule " << i;
  }
}

}  // namespace

TEST(AnonymousMemory, CommitsAPageOnlyWhenTouched) {
  AnonymousMemory m(256 * 1024);
  EXPECT_EQ(resident_pages(m), 0u);
  m.data()[5000] = 1;
  EXPECT_EQ(resident_pages(m), 1u);
}

TEST(PduReceiverStaging, AFewSmallPdusKeepOnePageResident) {
  Received got = receive(3, 256 * 1024);  // ~200 bytes: one recv takes all of them
  expect_intact(got, 3);
  EXPECT_EQ(got.resident_pages, 1u);
}

TEST(PduReceiverStaging, ADeepStreamUsesTheDepthAndKeepsEveryByte) {
  constexpr unsigned kCount = 400;  // ~75 KB waiting in the socket
  Received got = receive(kCount, 256 * 1024);
  expect_intact(got, kCount);
  EXPECT_GT(got.resident_pages, 4u);
}

TEST(PduReceiverStaging, PdusStraddlingSmallFullRecvsArriveWhole) {
  constexpr unsigned kCount = 400;
  Received got = receive(kCount, 1024);  // every recv fills the buffer and ends inside a PDU
  expect_intact(got, kCount);
}
