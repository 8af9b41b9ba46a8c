// The PDU sender over a socketpair: a burst of PDUs queued in one reactor turn leaves in one sendmsg when its
// iovecs fit one call (a QD 128 burst of writes or reads does), a burst of more iovecs than one call takes is cut
// mid-PDU and resumed, and a socket that takes only part of a send gets the rest later; in every case the peer
// reads exactly the queued bytes in order, and each PDU is released once, after its last byte went out.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/tcp/pdu_sender.hpp"

using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

class CountingOwner final : public PduSender::Owner {
 public:
  std::vector<std::uint32_t> released;  ///< Tags in release order
  bool error = false;
  void on_pdu_released(OutPdu& pdu, bool sent) override {
    EXPECT_TRUE(sent);
    released.push_back(pdu.tag);
  }
  void on_send_error(int) override { error = true; }
  void on_sender_idle() override {}
};

/// `count` PDUs, each an 8-byte header and `pieces` data iovecs of `piece` bytes; every byte is distinct enough
/// that a reordering or a lost or repeated piece shows in the comparison.
struct Burst {
  std::vector<OutPdu> pdus;
  std::vector<Bytes> heads;
  std::vector<Bytes> data;
  std::vector<iovec> iov;
  Bytes expected;

  Burst(std::size_t count, std::size_t pieces, std::size_t piece) : pdus(count), heads(count), data(count) {
    iov.resize(count * pieces);
    for (std::size_t i = 0; i < count; ++i) {
      heads[i].resize(8);
      for (std::size_t b = 0; b < 8; ++b) heads[i][b] = static_cast<std::uint8_t>(i * 7 + b);
      data[i].resize(pieces * piece);
      for (std::size_t b = 0; b < data[i].size(); ++b) data[i][b] = static_cast<std::uint8_t>(i * 13 + b * 3 + 1);
      for (std::size_t k = 0; k < pieces; ++k) iov[i * pieces + k] = {data[i].data() + k * piece, piece};
      OutPdu& p = pdus[i];
      p.head = heads[i].data();
      p.head_len = 8;
      p.data_iov = &iov[i * pieces];
      p.data_iovcnt = static_cast<std::uint32_t>(pieces);
      p.data_offset = 0;
      p.data_len = static_cast<std::uint32_t>(pieces * piece);
      p.tag = static_cast<std::uint32_t>(i);
      expected.insert(expected.end(), heads[i].begin(), heads[i].end());
      expected.insert(expected.end(), data[i].begin(), data[i].end());
    }
  }
};

class PduSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    ASSERT_EQ(fcntl(fds_[1], F_SETFL, O_NONBLOCK), 0);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }

  /// Queue the whole burst in one reactor turn, then turn the reactor and drain the peer until every PDU is
  /// released. The peer must read exactly the burst's bytes and each PDU be released once, in order. Returns the
  /// sendmsg calls it took.
  std::uint64_t send_and_check(Burst& burst) {
    CountingOwner owner;
    PduSender sender(reactor_, fds_[0], owner);
    reactor_.post([&] {
      for (OutPdu& p : burst.pdus) sender.enqueue(p);
    });
    Bytes got;
    std::uint8_t buf[65536];
    for (int i = 0; i < 2000 && (owner.released.size() < burst.pdus.size() || got.size() < burst.expected.size());
         ++i) {
      reactor_.run_once(1ms);
      ssize_t n;
      while ((n = ::read(fds_[1], buf, sizeof buf)) > 0) got.insert(got.end(), buf, buf + n);
    }
    EXPECT_EQ(got, burst.expected);
    EXPECT_EQ(owner.released.size(), burst.pdus.size());
    for (std::uint32_t i = 0; i < owner.released.size(); ++i) EXPECT_EQ(owner.released[i], i) << "release " << i;
    EXPECT_FALSE(owner.error);
    return sender.sends();
  }

  int fds_[2]{-1, -1};
  Reactor reactor_{0};
};

TEST_F(PduSenderTest, AQueueDepthBurstOfWritesLeavesInOneSendmsg) {
  // 128 capsules with in-capsule data: 256 iovecs (four sendmsgs when a call took 64). The data is small enough
  // for the socketpair's default buffer to take the whole burst at once.
  Burst burst(128, 1, 512);
  EXPECT_EQ(send_and_check(burst), 1u);
}

TEST_F(PduSenderTest, MoreIovecsThanOneSendmsgTakesAreCutMidPduAndResumed) {
  // 300 PDUs of a header and 4 data pieces: 1,500 iovecs, more than one sendmsg takes (1,024), so the cut falls
  // inside the data of PDU 204.
  Burst burst(300, 4, 64);
  EXPECT_EQ(send_and_check(burst), 2u);
}

TEST_F(PduSenderTest, ASocketThatTakesPartOfASendGetsTheRestInOrder) {
  // A small send buffer: each sendmsg takes a part, often ending inside a PDU.
  Burst burst(200, 2, 3000);
  int size = 16 * 1024;
  ASSERT_EQ(setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  EXPECT_GT(send_and_check(burst), 2u);
}

}  // namespace
