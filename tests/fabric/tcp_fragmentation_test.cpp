// Every NVMe/TCP PDU type split at every byte boundary, through the receive state machine of both roles
// (pdu_receiver.cpp under controller_recv.cpp and under host_connection.cpp), with and without digests. A TCP
// peer may segment the stream anywhere (NVMe/TCP 1.0 section 3.3: PDUs are a byte stream), so each PDU is sent in
// two parts: bytes [0, k) and [k, end), the receiver having consumed the first part before the second is sent.
//
// Controller role: a raw client against the controller queue (its reactor on its own thread); the test waits
// until the server socket's receive queue is empty (/proc/net/tcp) before sending the second part.
// Host role: a raw controller in the test thread against the host queue, whose reactor the test drives itself,
// so the first part is received before the second is written.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "fabric/tcp/host_queue.hpp"
#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;

namespace {

constexpr std::uint32_t kDataLen = 36;  // not a multiple of 8: the data digest and padding see odd offsets

/// One PDU as bytes on the wire: header (+ digest), padding, data, data digest.
Bytes assemble(const std::uint8_t* head, const PduLayout& l, const Bytes& data, bool data_digest) {
  Bytes out(head, head + l.header_len);
  if (data.empty()) return out;
  out.insert(out.end(), l.pad_len, 0);
  out.insert(out.end(), data.begin(), data.end());
  if (data_digest) {
    std::uint8_t d[4];
    put_le32(d, nvme::crc32c(data.data(), data.size()));
    out.insert(out.end(), d, d + 4);
  }
  return out;
}

/// A PDU whose data digest no longer matches: its last data byte flipped (the digest field itself is intact, so
/// only a receiver that digests every data byte notices).
Bytes with_bad_data(Bytes pdu) {
  pdu[pdu.size() - pdu::kDigestSize - 1] ^= 0x01;
  return pdu;
}

/// Data long enough that the receiver takes its remainder straight into the destination (PduReceiver's direct
/// path, 16 KiB and up), odd so the pieces never line up with 8 bytes.
constexpr std::uint32_t kBulkLen = 20 * 1024 + 5;
/// Splits of a PDU of `size` bytes whose data starts at `data_start` and ends in a data digest: in the header, around the start
/// of the data, where the remainder falls below and above the direct threshold, and inside the digest.
std::vector<std::size_t> bulk_splits(std::size_t size, std::size_t data_start) {
  std::vector<std::size_t> k = {1, data_start - 1, data_start, data_start + 1, data_start + 4097};
  for (std::size_t tail : std::initializer_list<std::size_t>{16 * 1024 + 5, 16 * 1024 + 4, 16 * 1024 + 3, 9, 5, 4, 3, 1})
    k.push_back(size - tail);
  return k;
}

std::uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

/// Bytes waiting in the receive queue of the IPv4 TCP socket with these ports, from /proc/net/tcp (-1: not found).
long receive_queue(std::uint16_t local, std::uint16_t remote) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  char want_local[8], want_remote[8];
  std::snprintf(want_local, sizeof want_local, ":%04X", local);
  std::snprintf(want_remote, sizeof want_remote, ":%04X", remote);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sl, loc, rem, st, queues;
    if (!(in >> sl >> loc >> rem >> st >> queues)) continue;
    if (!loc.ends_with(want_local) || !rem.ends_with(want_remote)) continue;
    return std::stol(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return -1;
}

/// Sends `pdu` in two parts split at `k`; waits until the receiving socket (local/remote ports as seen by the
/// receiver) has handed the first part to its reader before sending the second.
void send_split(RawClient& c, const Bytes& pdu, std::size_t k, std::uint16_t peer_local, std::uint16_t peer_remote) {
  c.send(pdu.data(), k);
  wait_until([&] { return receive_queue(peer_local, peer_remote) == 0; }, 200ms);
  c.send(pdu.data() + k, pdu.size() - k);
}

Bytes capsule_cmd(nvme::Sqe sqe, const Bytes& in_capsule, std::uint32_t transport_length, Digests d) {
  sqe.flags = nvme::kPsdtSgl;
  sqe.dptr = {};
  if (!in_capsule.empty()) {
    sqe.dptr.length = static_cast<std::uint32_t>(in_capsule.size());
    sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
  } else if (transport_length) {
    sqe.dptr.length = transport_length;
    sqe.dptr.id =
        nvme::SglDescriptor::make_id(nvme::SglType::transport_data_block, nvme::SglSubtype::transport_specific);
  }
  std::uint8_t head[kMaxDigestedHeader];
  auto l = build_capsule_cmd(head, sqe, d, static_cast<std::uint32_t>(in_capsule.size()), 4);
  return assemble(head, l, in_capsule, d.data);
}

Bytes term_req(pdu::PduType type) {
  std::uint8_t buf[kTermReqBufferSize];
  std::uint8_t offending[24] = {0x04, 0, 24, 0};
  std::uint32_t plen = build_term_req(buf, type, {pdu::TermFes::invalid_header_field, 2}, offending, sizeof offending);
  return Bytes(buf, buf + plen);
}

class ControllerRole : public ::testing::TestWithParam<bool> {
 protected:
  Digests digests() const { return {GetParam(), GetParam()}; }
  std::uint8_t dgst_bits() const { return digests().dgst_bits(); }
  /// Receives the CapsuleResp for `cid` and checks it succeeded (EchoHandler fails a write whose data differ).
  void expect_success(RawClient& c, std::uint16_t cid, std::size_t k) {
    Bytes r = c.recv_pdu();
    ASSERT_EQ(common(r).pdu_type, pdu::PduType::capsule_resp) << "split at " << k;
    auto resp = as<pdu::CapsuleResp>(r);
    EXPECT_EQ(resp.cqe.cid, cid) << "split at " << k;
    EXPECT_TRUE(resp.cqe.get_status().ok()) << "split at " << k;
  }
  TestServer server_;
};

TEST_P(ControllerRole, IcReqAtEveryBoundary) {
  auto req = build_ic_req(0, dgst_bits(), 0);
  Bytes pdu(reinterpret_cast<const std::uint8_t*>(&req), reinterpret_cast<const std::uint8_t*>(&req) + sizeof req);
  const auto port = static_cast<std::uint16_t>(std::stoi(server_.port()));
  for (std::size_t k = 1; k < pdu.size(); ++k) {
    RawClient c(server_.port());
    send_split(c, pdu, k, port, local_port(c.fd()));
    Bytes r = c.recv_pdu();
    ASSERT_EQ(common(r).pdu_type, pdu::PduType::ic_resp) << "split at " << k;
    EXPECT_EQ(as<pdu::IcResp>(r).dgst, dgst_bits()) << "split at " << k;
  }
}

TEST_P(ControllerRole, CapsuleCmdWithAndWithoutDataAndH2CDataAtEveryBoundary) {
  RawClient c(server_.port());
  c.handshake(dgst_bits());
  const auto port = static_cast<std::uint16_t>(std::stoi(server_.port()));
  const auto peer = local_port(c.fd());
  std::uint16_t cid = 0;

  // No data (a Flush).
  for (std::size_t k = 1;; ++k) {
    ++cid;
    Bytes pdu = capsule_cmd(make_sqe(0x00, cid), {}, 0, digests());
    if (k >= pdu.size()) break;
    send_split(c, pdu, k, port, peer);
    ASSERT_NO_FATAL_FAILURE(expect_success(c, cid, k));
  }

  // In-capsule write data: the handler compares it with pattern(seed).
  for (std::size_t k = 1;; ++k) {
    ++cid;
    Bytes pdu = capsule_cmd(make_sqe(0x01, cid, cid), pattern(cid, kDataLen), 0, digests());
    if (k >= pdu.size()) break;
    send_split(c, pdu, k, port, peer);
    ASSERT_NO_FATAL_FAILURE(expect_success(c, cid, k));
  }

  // Write data after an R2T: the command whole, the H2CData split.
  for (std::size_t k = 1;; ++k) {
    ++cid;
    c.send(capsule_cmd(make_sqe(0x01, cid, cid), {}, kDataLen, digests()));
    Bytes r = c.recv_pdu();
    ASSERT_EQ(common(r).pdu_type, pdu::PduType::r2t) << "split at " << k;
    auto r2t = as<pdu::R2T>(r);
    ASSERT_EQ(r2t.r2tl, kDataLen);
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_h2c_data(head, cid, r2t.ttag, 0, kDataLen, true, digests(), 4);
    Bytes h2c = assemble(head, l, pattern(cid, kDataLen), digests().data);
    if (k >= h2c.size()) {
      c.send(h2c);
      ASSERT_NO_FATAL_FAILURE(expect_success(c, cid, k));
      break;
    }
    send_split(c, h2c, k, port, peer);
    ASSERT_NO_FATAL_FAILURE(expect_success(c, cid, k));
  }
  EXPECT_EQ(server_.stats.fetch_errors.load(), 0);
}

TEST_P(ControllerRole, H2CTermReqAtEveryBoundaryEndsTheConnection) {
  Bytes pdu = term_req(pdu::PduType::h2c_term_req);
  const auto port = static_cast<std::uint16_t>(std::stoi(server_.port()));
  for (std::size_t k = 1; k < pdu.size(); ++k) {
    RawClient c(server_.port());
    c.handshake(dgst_bits());
    send_split(c, pdu, k, port, local_port(c.fd()));
    EXPECT_TRUE(c.peer_closed()) << "split at " << k;
  }
  EXPECT_TRUE(wait_until([&] { return server_.stats.closed.load() == server_.stats.handlers.load(); }));
}

INSTANTIATE_TEST_SUITE_P(Digests, ControllerRole, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "HeaderAndData" : "None"; });

// With digests on: a wrong data digest is caught whichever receive brought which part of the data, and long
// data (received direct into the command's buffer) is digested right, good and bad.
class ControllerRoleDigests : public ControllerRole {
 protected:
  /// Receives the CapsuleResp for `cid`: Transient Transport Error (a data digest error is not fatal).
  void expect_transport_error(RawClient& c, std::uint16_t cid, std::size_t k) {
    Bytes r = c.recv_pdu();
    ASSERT_EQ(common(r).pdu_type, pdu::PduType::capsule_resp) << "split at " << k;
    auto resp = as<pdu::CapsuleResp>(r);
    EXPECT_EQ(resp.cqe.cid, cid) << "split at " << k;
    EXPECT_EQ(resp.cqe.get_status(), nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR))
        << "split at " << k;
  }
  /// A write of `len` bytes whose data comes in one H2CData after the R2T, sent split at `k`.
  Bytes h2c_after_r2t(RawClient& c, std::uint16_t cid, std::uint32_t len) {
    c.send(capsule_cmd(make_sqe(0x01, cid, cid), {}, len, digests()));
    Bytes r = c.recv_pdu();
    EXPECT_EQ(common(r).pdu_type, pdu::PduType::r2t);
    auto r2t = as<pdu::R2T>(r);
    EXPECT_EQ(r2t.r2tl, len);
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_h2c_data(head, cid, r2t.ttag, 0, len, true, digests(), 4);
    return assemble(head, l, pattern(cid, len), true);
  }
};

TEST_P(ControllerRoleDigests, BadDataDigestAtEveryBoundary) {
  RawClient c(server_.port());
  c.handshake(dgst_bits());
  const auto port = static_cast<std::uint16_t>(std::stoi(server_.port()));
  const auto peer = local_port(c.fd());
  std::uint16_t cid = 0;

  // In-capsule write data.
  for (std::size_t k = 1;; ++k) {
    ++cid;
    Bytes pdu = with_bad_data(capsule_cmd(make_sqe(0x01, cid, cid), pattern(cid, kDataLen), 0, digests()));
    if (k >= pdu.size()) break;
    send_split(c, pdu, k, port, peer);
    ASSERT_NO_FATAL_FAILURE(expect_transport_error(c, cid, k));
  }
  // H2CData after an R2T.
  int h2c_sent = 0;
  for (std::size_t k = 1;; ++k) {
    ++cid;
    ++h2c_sent;
    Bytes h2c = with_bad_data(h2c_after_r2t(c, cid, kDataLen));
    if (k >= h2c.size()) {
      c.send(h2c);
      ASSERT_NO_FATAL_FAILURE(expect_transport_error(c, cid, k));
      break;
    }
    send_split(c, h2c, k, port, peer);
    ASSERT_NO_FATAL_FAILURE(expect_transport_error(c, cid, k));
  }
  EXPECT_EQ(server_.stats.fetch_errors.load(), h2c_sent);  // each bad H2CData failed the fetch, none reached a write
}

TEST_P(ControllerRoleDigests, BulkH2CDataGoodAndBadDigest) {
  RawClient c(server_.port());
  c.handshake(dgst_bits());
  const auto port = static_cast<std::uint16_t>(std::stoi(server_.port()));
  const auto peer = local_port(c.fd());
  std::uint16_t cid = 100;
  std::uint8_t head[kMaxDigestedHeader];
  const std::size_t data_start = build_h2c_data(head, 0, 0, 0, kBulkLen, true, digests(), 4).pdo;
  const std::size_t size = data_start + kBulkLen + pdu::kDigestSize;
  for (bool bad : {false, true}) {
    for (std::size_t k : bulk_splits(size, data_start)) {
      ++cid;
      Bytes h2c = h2c_after_r2t(c, cid, kBulkLen);
      ASSERT_EQ(h2c.size(), size);
      if (bad) h2c = with_bad_data(std::move(h2c));
      send_split(c, h2c, k, port, peer);
      if (bad)
        ASSERT_NO_FATAL_FAILURE(expect_transport_error(c, cid, k));
      else
        ASSERT_NO_FATAL_FAILURE(expect_success(c, cid, k));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Digests, ControllerRoleDigests, ::testing::Values(true),
                         [](const auto&) { return "HeaderAndData"; });

// ---- Host role: a raw controller in the test thread; the host's reactor runs only when the test drives it.

class RawController {
 public:
  RawController() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_, 8), 0);
    port_ = std::to_string(local_port(listen_fd_));
  }
  ~RawController() { ::close(listen_fd_); }
  const std::string& port() const { return port_; }
  int listen_fd() const { return listen_fd_; }

 private:
  int listen_fd_;
  std::string port_;
};

/// The accepted end of one host connection: reads PDUs while driving the host's reactor, sends split PDUs.
class Peer {
 public:
  Peer(int fd, Reactor& reactor) : fd_(fd), reactor_(reactor) {}
  ~Peer() { ::close(fd_); }
  int fd() const { return fd_; }
  /// One whole PDU from the host, running the host's reactor until it has been sent.
  Bytes read_pdu() {
    Bytes got;
    auto end = std::chrono::steady_clock::now() + 5s;
    auto want = [&] { return got.size() < 8 ? std::size_t{8} : std::size_t{get_le32(got.data() + 4)}; };
    while (got.size() < want() && std::chrono::steady_clock::now() < end) {
      std::uint8_t buf[4096];
      ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, want() - got.size()), MSG_DONTWAIT);
      if (r > 0) {
        got.insert(got.end(), buf, buf + r);
        continue;
      }
      if (r == 0) break;
      reactor_.run_once(1ms);
    }
    return got;
  }
  /// Sends [0, k), lets the host's reactor receive it, then sends the rest.
  void send_split(const Bytes& pdu, std::size_t k) {
    send(pdu.data(), k);
    for (int i = 0; i < 3 && reactor_.run_once(1ms) == 0; ++i) {
    }
    send(pdu.data() + k, pdu.size() - k);
  }
  void send(const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      ASSERT_GT(w, 0) << std::strerror(errno);
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void send(const Bytes& b) { send(b.data(), b.size()); }

 private:
  int fd_;
  Reactor& reactor_;
};

struct Completion {
  bool done = false;
  nvme::Status status;
};

class HostRole : public ::testing::TestWithParam<bool> {
 protected:
  Digests digests() const { return {GetParam(), GetParam()}; }
  HostQueueOptions options() const {
    HostQueueOptions o;
    o.trsvcid = controller_.port();
    o.header_digest = o.data_digest = GetParam();
    o.queue_depth = 8;
    o.connect_timeout = 5000ms;
    return o;
  }
  /// Connects a host queue; the ICResp is sent split at `k` (whole when k is 0) by a helper thread, since
  /// connecting runs the reactor in this thread until the ICResp has arrived.
  std::unique_ptr<TcpHostQueue> connect(std::size_t k, std::unique_ptr<Peer>& peer) {
    int fd = -1;
    std::thread responder([&] {
      fd = ::accept4(controller_.listen_fd(), nullptr, nullptr, SOCK_CLOEXEC);
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      pdu::IcReq req;
      if (::recv(fd, &req, sizeof req, MSG_WAITALL) != sizeof req) return;
      auto resp = build_ic_resp(0, req.dgst, 128 * 1024);
      auto* b = reinterpret_cast<const std::uint8_t*>(&resp);
      if (k == 0) k = sizeof resp;
      ::send(fd, b, k, MSG_NOSIGNAL);
      std::this_thread::sleep_for(1ms);  // the host's reactor (the other thread) takes the first part alone
      ::send(fd, b + k, sizeof resp - k, MSG_NOSIGNAL);
    });
    std::string error;
    auto q = connect_tcp_host_queue(reactor_, options(), &error);
    responder.join();
    EXPECT_TRUE(q) << error << " (ICResp split at " << k << ")";
    peer = std::make_unique<Peer>(fd, reactor_);
    return q;
  }
  HostRequest request(std::uint8_t opcode, iovec* iov, DataDirection dir, Completion& done) {
    HostRequest r;
    r.sqe = make_sqe(opcode, 0);
    r.iov = iov;
    r.iovcnt = iov ? 1 : 0;
    r.direction = dir;
    r.context = &done;
    r.on_complete = [](HostRequest& req) {
      auto* d = static_cast<Completion*>(req.context);
      d->done = true;
      d->status = req.status();
    };
    return r;
  }
  bool drive_until(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 5s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      reactor_.run_once(5ms);
    }
    return true;
  }
  /// Lets a released connection finish closing on the reactor.
  void settle() {
    for (int i = 0; i < 5; ++i) reactor_.run_once(1ms);
  }
  Bytes capsule_resp(std::uint16_t cid) {
    nvme::Cqe cqe{};
    cqe.cid = cid;
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_capsule_resp(head, cqe, digests());
    return assemble(head, l, {}, false);
  }
  Bytes c2h_data(std::uint16_t cid, std::uint8_t flags, const Bytes& data) {
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_c2h_data(head, cid, 0, static_cast<std::uint32_t>(data.size()), flags, digests(), 4);
    return assemble(head, l, data, digests().data);
  }
  static std::uint16_t cid_of(const Bytes& capsule) { return as<pdu::CapsuleCmd>(capsule).sqe.cid; }

  RawController controller_;
  Reactor reactor_{1};
};

TEST_P(HostRole, IcRespAtEveryBoundary) {
  for (std::size_t k = 1; k < sizeof(pdu::IcResp); ++k) {
    std::unique_ptr<Peer> peer;
    auto q = connect(k, peer);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->negotiated().digests.header, GetParam());
    EXPECT_EQ(q->negotiated().digests.data, GetParam());
    q.reset();
    settle();
  }
}

TEST_P(HostRole, ResponsesDataAndR2TAtEveryBoundary) {
  std::unique_ptr<Peer> peer;
  auto q = connect(0, peer);
  ASSERT_TRUE(q);
  const Bytes expected = pattern(7, kDataLen);

  // CapsuleResp (a command without data).
  for (std::size_t k = 1; k < capsule_resp(0).size(); ++k) {
    Completion done;
    auto req = request(0x00, nullptr, DataDirection::none, done);
    ASSERT_TRUE(q->submit(req));
    Bytes cmd = peer->read_pdu();
    ASSERT_EQ(common(cmd).pdu_type, pdu::PduType::capsule_cmd);
    peer->send_split(capsule_resp(cid_of(cmd)), k);
    ASSERT_TRUE(drive_until([&] { return done.done; })) << "CapsuleResp split at " << k;
    EXPECT_TRUE(done.status.ok()) << "CapsuleResp split at " << k;
  }

  // C2HData followed by a CapsuleResp, and C2HData with SUCCESS (no CapsuleResp).
  for (std::uint8_t flags : {pdu::kFlagLastPdu, static_cast<std::uint8_t>(pdu::kFlagLastPdu | pdu::kFlagSuccess)}) {
    const bool success = flags & pdu::kFlagSuccess;
    for (std::size_t k = 1; k < c2h_data(0, flags, expected).size(); ++k) {
      Bytes buf(kDataLen);
      iovec iov{buf.data(), buf.size()};
      Completion done;
      auto req = request(0x02, &iov, DataDirection::controller_to_host, done);
      ASSERT_TRUE(q->submit(req));
      Bytes cmd = peer->read_pdu();
      ASSERT_EQ(common(cmd).pdu_type, pdu::PduType::capsule_cmd);
      peer->send_split(c2h_data(cid_of(cmd), flags, expected), k);
      if (!success) peer->send(capsule_resp(cid_of(cmd)));
      ASSERT_TRUE(drive_until([&] { return done.done; })) << "C2HData (SUCCESS " << success << ") split at " << k;
      EXPECT_TRUE(done.status.ok()) << "C2HData (SUCCESS " << success << ") split at " << k;
      EXPECT_EQ(buf, expected) << "C2HData (SUCCESS " << success << ") split at " << k;
    }
  }

  // R2T: the host answers with H2CData carrying the write's data.
  q->set_in_capsule_limit(0);
  std::uint8_t r2t_head[kMaxDigestedHeader];
  const std::size_t r2t_len = build_r2t(r2t_head, 0, 0, 0, kDataLen, digests()).header_len;
  for (std::size_t k = 1; k < r2t_len; ++k) {
    Bytes data = expected;
    iovec iov{data.data(), data.size()};
    Completion done;
    auto req = request(0x01, &iov, DataDirection::host_to_controller, done);
    ASSERT_TRUE(q->submit(req));
    Bytes cmd = peer->read_pdu();
    ASSERT_EQ(common(cmd).pdu_type, pdu::PduType::capsule_cmd);
    const std::uint16_t cid = cid_of(cmd);
    auto l = build_r2t(r2t_head, cid, static_cast<std::uint16_t>(k), 0, kDataLen, digests());
    peer->send_split(assemble(r2t_head, l, {}, false), k);
    Bytes h2c = peer->read_pdu();
    ASSERT_EQ(common(h2c).pdu_type, pdu::PduType::h2c_data) << "R2T split at " << k;
    auto h = as<pdu::H2CData>(h2c);
    EXPECT_EQ(h.cccid, cid);
    EXPECT_EQ(h.ttag, k);
    ASSERT_EQ(h.datal, kDataLen);
    Bytes got(h2c.begin() + h.ch.pdo, h2c.begin() + h.ch.pdo + kDataLen);
    EXPECT_EQ(got, expected) << "R2T split at " << k;
    peer->send(capsule_resp(cid));
    ASSERT_TRUE(drive_until([&] { return done.done; })) << "R2T split at " << k;
    EXPECT_TRUE(done.status.ok()) << "R2T split at " << k;
  }
}

TEST_P(HostRole, C2HTermReqAtEveryBoundaryEndsTheQueue) {
  Bytes pdu = term_req(pdu::PduType::c2h_term_req);
  for (std::size_t k = 1; k < pdu.size(); ++k) {
    std::unique_ptr<Peer> peer;
    auto q = connect(0, peer);
    ASSERT_TRUE(q);
    peer->send_split(pdu, k);
    ASSERT_TRUE(drive_until([&] { return !q->alive(); })) << "C2HTermReq split at " << k;
    EXPECT_NE(q->error().message.find("C2HTermReq"), std::string::npos) << q->error().message;
    q.reset();
    settle();
  }
}

INSTANTIATE_TEST_SUITE_P(Digests, HostRole, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "HeaderAndData" : "None"; });

// With digests on: C2HData with a wrong data digest fails the read (Data Transfer Error) at every split, and
// long C2HData (received direct into the caller's buffer) is digested right, good and bad.
class HostRoleDigests : public HostRole {
 protected:
  /// Submits a read of `len` bytes and answers it with C2HData (SUCCESS set) split at `k`; returns its status.
  nvme::Status read_split(TcpHostQueue& q, Peer& peer, std::uint32_t len, std::size_t k, bool bad, Bytes& buf) {
    buf.assign(len, 0);
    iovec iov{buf.data(), buf.size()};
    Completion done;
    auto req = request(0x02, &iov, DataDirection::controller_to_host, done);
    EXPECT_TRUE(q.submit(req));
    Bytes cmd = peer.read_pdu();
    EXPECT_EQ(common(cmd).pdu_type, pdu::PduType::capsule_cmd);
    Bytes c2h = c2h_data(cid_of(cmd), static_cast<std::uint8_t>(pdu::kFlagLastPdu | pdu::kFlagSuccess), pattern(7, len));
    peer.send_split(bad ? with_bad_data(std::move(c2h)) : c2h, k);
    EXPECT_TRUE(drive_until([&] { return done.done; })) << "split at " << k;
    return done.status;
  }
};

TEST_P(HostRoleDigests, BadC2HDataDigestAtEveryBoundary) {
  std::unique_ptr<Peer> peer;
  auto q = connect(0, peer);
  ASSERT_TRUE(q);
  const auto xfer_error = nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
  const std::size_t size = c2h_data(0, pdu::kFlagLastPdu, pattern(7, kDataLen)).size();
  Bytes buf;
  for (std::size_t k = 1; k < size; ++k)
    EXPECT_EQ(read_split(*q, *peer, kDataLen, k, true, buf), xfer_error) << "split at " << k;
}

TEST_P(HostRoleDigests, BulkC2HDataGoodAndBadDigest) {
  std::unique_ptr<Peer> peer;
  auto q = connect(0, peer);
  ASSERT_TRUE(q);
  const auto xfer_error = nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR);
  const Bytes expected = pattern(7, kBulkLen);
  std::uint8_t head[kMaxDigestedHeader];
  const std::size_t data_start = build_c2h_data(head, 0, 0, kBulkLen, 0, digests(), 4).pdo;
  const std::size_t size = data_start + kBulkLen + pdu::kDigestSize;
  Bytes buf;
  for (std::size_t k : bulk_splits(size, data_start)) {
    EXPECT_TRUE(read_split(*q, *peer, kBulkLen, k, false, buf).ok()) << "split at " << k;
    EXPECT_EQ(buf, expected) << "split at " << k;
    EXPECT_EQ(read_split(*q, *peer, kBulkLen, k, true, buf), xfer_error) << "split at " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Digests, HostRoleDigests, ::testing::Values(true),
                         [](const auto&) { return "HeaderAndData"; });

}  // namespace
