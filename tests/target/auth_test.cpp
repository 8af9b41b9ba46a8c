// In-band authentication (DH-HMAC-CHAP) through the QueueHandler seam: Connect asks for it, the queue accepts
// nothing else until it succeeds, the transaction in both directions with each hash and several DH groups,
// re-authentication, the timeout, and every malformed or out-of-order message with the answer the spec gives.
// The host side is nvme/dhchap_host (checked against known answers in tests/nvme), or hand-made messages.
#include <cstring>

#include "nvme/auth_wire.hpp"
#include "nvme/dhchap_host.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

using namespace nvme::dhchap;
using nvme::AuthFailure;

constexpr const char* kOpenHostNqn = "nqn.2014-08.org.nvmexpress:uuid:77777777-2222-3333-4444-555555555555";

nvme::Sqe auth_sqe(std::uint8_t fctype, std::uint32_t length, std::uint8_t secp = nvme::kAuthSecp) {
  nvme::AuthCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = fctype;
  c.spsp0 = nvme::kAuthSpsp;
  c.spsp1 = nvme::kAuthSpsp;
  c.secp = secp;
  c.length = length;
  return nvme::to_sqe(c);
}

class AuthTest : public TargetTest {
 protected:
  void SetUp() override { setup({}); }

  void setup(target::ControllerSettings settings) {
    make_registry({ram_subsystem()}, settings);
    host_secret_ = generate_secret(32, Hash::sha256, kHostNqn);
    ctrl_secret_ = generate_secret(48, std::nullopt, "");
    target::HostConfig h;
    h.nqn = kHostNqn;
    h.dhchap_key = format_secret(host_secret_);
    h.dhchap_ctrl_key = format_secret(ctrl_secret_);
    registry_->set_host(h);
    target::HostConfig open;  // listed, but without DH-HMAC-CHAP keys
    open.nqn = kOpenHostNqn;
    registry_->set_host(open);
  }

  HostCredentials credentials(bool bidirectional = false) {
    HostCredentials c;
    c.host_key = host_secret_;
    if (bidirectional) c.ctrl_key = ctrl_secret_;
    return c;
  }

  Completion send(FakeQueue& q, const Bytes& message, bool in_capsule = true) {
    return q.run(auth_sqe(nvme_fabrics_type_auth_send, static_cast<std::uint32_t>(message.size())),
                 static_cast<std::uint32_t>(message.size()), message.data(), in_capsule);
  }
  Completion receive(FakeQueue& q, std::uint32_t length = DhchapHost::kReceiveLength) {
    return q.run(auth_sqe(nvme_fabrics_type_auth_receive, length), length);
  }
  static std::span<const std::uint8_t> bytes(const Completion& c) {
    return {reinterpret_cast<const std::uint8_t*>(c.data.data()), c.data.size()};
  }
  /// The Failure1 reason a Receive returned (nullopt when it was another message).
  static std::optional<AuthFailure> failure1(const Completion& c) {
    if (!c.status().ok() || c.data.size() != sizeof(nvme::AuthFailureMessage)) return std::nullopt;
    auto m = as<nvme::AuthFailureMessage>(c);
    if (m.auth_id != static_cast<std::uint8_t>(nvme::AuthId::failure1) || m.rescode != nvme::kAuthFailureReason)
      return std::nullopt;
    return static_cast<AuthFailure>(m.rescode_exp);
  }

  /// The whole transaction as a host runs it; true when both sides consider it a success.
  bool authenticate(FakeQueue& q, DhchapHost& host) {
    if (!send(q, host.negotiate()).status().ok()) return false;
    auto challenge = receive(q);
    if (!challenge.status().ok()) return false;
    Bytes reply = host.on_challenge(bytes(challenge));
    if (host.failed()) return false;
    if (!send(q, reply).status().ok()) return false;
    auto success1 = receive(q);
    Bytes last = host.on_success1(bytes(success1));
    if (!last.empty() && !send(q, last).status().ok()) return false;
    return host.authenticated();
  }

  /// Admin queue connected with authentication pending; returns the CNTLID.
  std::uint16_t connect_pending(FakeQueue& q, const std::string& host = kHostNqn) {
    auto c = connect(q, 0, 31, connect_data(host, kSubNqn));
    EXPECT_TRUE(c.status().ok()) << c.status().to_string();
    EXPECT_TRUE(c.cqe.dw0 & nvme::kConnectAuthreqAtr);
    return static_cast<std::uint16_t>(c.cqe.dw0 & 0xFFFF);
  }

  /// A working, unauthenticated controller of another host with an I/O queue: its verified I/O must go on
  /// whatever the authenticating host does.
  struct Bystander {
    std::unique_ptr<FakeQueue> admin, io;
  };
  Bystander bystander() {
    Bystander b;
    b.admin = new_queue();
    auto cntlid = connect_and_enable(*b.admin, kSubNqn, kOtherHostNqn);
    b.io = new_queue();
    EXPECT_TRUE(connect_io(*b.io, cntlid, 1, 127, kSubNqn, kOtherHostNqn).status().ok());
    return b;
  }
  /// A controller of kHostNqn admitted through authentication, enabled, with I/O queue 1 authenticated too.
  struct Admitted {
    std::unique_ptr<FakeQueue> admin, io;
    std::uint16_t cntlid = 0;
  };
  Admitted admitted() {
    Admitted a;
    a.admin = new_queue();
    a.cntlid = connect_pending(*a.admin);
    DhchapHost first(credentials(), kHostNqn, kSubNqn, 1);
    EXPECT_TRUE(authenticate(*a.admin, first));
    EXPECT_TRUE(a.admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
    a.io = new_queue();
    EXPECT_TRUE(connect_io(*a.io, a.cntlid, 1).status().ok());
    DhchapHost io_auth(credentials(), kHostNqn, kSubNqn, 2);
    EXPECT_TRUE(authenticate(*a.io, io_auth));
    return a;
  }
  void verified_io(FakeQueue& io, std::uint64_t lba, std::uint8_t seed) {
    std::vector<std::byte> data(512);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(seed + i * 7);
    ASSERT_TRUE(io.run(io_sqe(nvme_cmd_write, 1, lba, 1), 512, data.data()).status().ok());
    auto r = io.run(io_sqe(nvme_cmd_read, 1, lba, 1), 512);
    ASSERT_TRUE(r.status().ok());
    EXPECT_EQ(r.data, data);
  }

  Secret host_secret_, ctrl_secret_;
};

TEST_F(AuthTest, ConnectAsksForAuthenticationOnlyFromHostsWithAKey) {
  auto q = new_queue();
  connect_pending(*q);
  auto open = new_queue();
  auto c = connect(*open, 0, 31, connect_data(kOpenHostNqn, kSubNqn));
  ASSERT_TRUE(c.status().ok());
  EXPECT_EQ(c.cqe.dw0 & (nvme::kConnectAuthreqAtr | nvme::kConnectAuthreqAscr), 0u);
}

TEST_F(AuthTest, NothingButAuthenticationBeforeItSucceeds) {
  auto q = new_queue();
  const auto cntlid = connect_pending(*q);
  for (auto sqe : {property_set(NVME_REG_CC, cc_enable()), property_get(NVME_REG_CAP, true),
                   identify_sqe(NVME_IDENTIFY_CNS_CTRL), admin_sqe(nvme_admin_keep_alive)}) {
    auto c = q->run(sqe, sqe.opcode == nvme_admin_identify ? 4096 : 0);
    EXPECT_EQ(c.status().sct(), NVME_SCT_CMD_SPECIFIC);
    EXPECT_EQ(c.status().sc(), NVME_SC_AUTH_REQUIRED);
    EXPECT_TRUE(c.status().dnr());
  }
  // The controller stays unusable: not enabled.
  auto ctrl = controller(cntlid);
  ASSERT_NE(ctrl, nullptr);
  EXPECT_FALSE(ctrl->ready());
  DhchapHost host(credentials(), kHostNqn, kSubNqn, 1);
  ASSERT_TRUE(authenticate(*q, host)) << host.error();
  EXPECT_TRUE(q->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  EXPECT_TRUE(q->run(property_get(NVME_REG_CAP, true)).status().ok());
}

TEST_F(AuthTest, EveryHashWithTheNullGroup) {
  for (Hash h : {Hash::sha256, Hash::sha384, Hash::sha512}) {
    auto q = new_queue();
    connect_pending(*q);
    auto creds = credentials();
    creds.hashes = {h};
    creds.dhgroups = {DhGroup::null};
    DhchapHost host(creds, kHostNqn, kSubNqn, 7);
    EXPECT_TRUE(authenticate(*q, host)) << hash_name(h) << ": " << host.error();
    EXPECT_EQ(host.hash(), h);
  }
}

TEST_F(AuthTest, FfdheGroupsBothDirections) {
  for (DhGroup g : {DhGroup::ffdhe2048, DhGroup::ffdhe3072, DhGroup::ffdhe4096}) {
    auto q = new_queue();
    connect_pending(*q);
    auto creds = credentials(/*bidirectional=*/true);
    creds.dhgroups = {g};
    DhchapHost host(creds, kHostNqn, kSubNqn, 9);
    EXPECT_TRUE(authenticate(*q, host)) << dhgroup_name(g) << ": " << host.error();
    EXPECT_EQ(host.dhgroup(), g);
    EXPECT_TRUE(q->run(property_get(NVME_REG_CAP, true)).status().ok());
  }
}

TEST_F(AuthTest, EveryQueueAuthenticatesAndIoWaitsForIt) {
  auto admin = new_queue();
  const auto cntlid = connect_pending(*admin);
  DhchapHost a(credentials(), kHostNqn, kSubNqn, 1);
  ASSERT_TRUE(authenticate(*admin, a));
  ASSERT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  auto io = new_queue();
  auto c = connect_io(*io, cntlid, 1);
  ASSERT_TRUE(c.status().ok());
  EXPECT_TRUE(c.cqe.dw0 & nvme::kConnectAuthreqAtr);
  auto early = io->run(io_sqe(nvme_cmd_read, 1, 0, 1), 512);
  EXPECT_EQ(early.status().sc(), NVME_SC_AUTH_REQUIRED);
  EXPECT_EQ(early.status().sct(), NVME_SCT_CMD_SPECIFIC);
  DhchapHost b(credentials(true), kHostNqn, kSubNqn, 2);
  ASSERT_TRUE(authenticate(*io, b)) << b.error();
  verified_io(*io, 3, 0x11);
}

TEST_F(AuthTest, WrongHostKeyFailsWithReasonAndEndsTheAssociation) {
  auto by = bystander();
  auto q = new_queue();
  const auto cntlid = connect_pending(*q);
  auto creds = credentials();
  creds.host_key = generate_secret(32, Hash::sha256, kHostNqn);  // not the configured one
  DhchapHost host(creds, kHostNqn, kSubNqn, 3);
  ASSERT_TRUE(send(*q, host.negotiate()).status().ok());
  auto challenge = receive(*q);
  Bytes reply = host.on_challenge(bytes(challenge));
  ASSERT_FALSE(host.failed());
  EXPECT_TRUE(send(*q, reply).status().ok());  // the Send succeeds; the verdict comes with the next Receive
  auto verdict = receive(*q);
  EXPECT_EQ(failure1(verdict), AuthFailure::failed);
  host.on_success1(bytes(verdict));
  EXPECT_TRUE(host.failed());
  EXPECT_NE(host.error().find("authentication failed"), std::string::npos);
  drain(400);
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(controller(cntlid), nullptr);
  verified_io(*by.io, 5, 0x22);
}

TEST_F(AuthTest, HostRejectsAWrongControllerResponseWithFailure2) {
  auto q = new_queue();
  connect_pending(*q);
  auto creds = credentials(true);
  creds.ctrl_key = generate_secret(48, std::nullopt, "");  // the host expects another controller key
  DhchapHost host(creds, kHostNqn, kSubNqn, 4);
  EXPECT_FALSE(authenticate(*q, host));
  EXPECT_EQ(host.failure(), AuthFailure::failed);
  drain(400);
  EXPECT_TRUE(q->closed());  // Failure2 ends the association too
}

TEST_F(AuthTest, HashOrGroupNotOfferedFails) {
  target::HostConfig h = *registry_->host(kHostNqn);
  h.dhchap_hashes = {"sha512"};
  h.dhchap_dhgroups = {"ffdhe3072"};
  registry_->set_host(h);
  struct Case {
    std::vector<Hash> hashes;
    std::vector<DhGroup> groups;
    AuthFailure expected;
  };
  for (const auto& k : {Case{{Hash::sha256, Hash::sha384}, {DhGroup::ffdhe3072}, AuthFailure::hash_unusable},
                        Case{{Hash::sha512}, {DhGroup::null, DhGroup::ffdhe2048}, AuthFailure::dhgroup_unusable}}) {
    auto q = new_queue();
    connect_pending(*q);
    auto creds = credentials();
    creds.hashes = k.hashes;
    creds.dhgroups = k.groups;
    DhchapHost host(creds, kHostNqn, kSubNqn, 5);
    EXPECT_TRUE(send(*q, host.negotiate()).status().ok());
    EXPECT_EQ(failure1(receive(*q)), k.expected);
  }
  auto q = new_queue();
  connect_pending(*q);
  auto creds = credentials();
  creds.hashes = {Hash::sha512};
  creds.dhgroups = {DhGroup::ffdhe3072};
  DhchapHost ok(creds, kHostNqn, kSubNqn, 6);
  EXPECT_TRUE(authenticate(*q, ok)) << ok.error();
}

TEST_F(AuthTest, MessagesOutOfOrderGetIncorrectProtocolMessage) {
  auto by = bystander();
  DhchapHost ref(credentials(), kHostNqn, kSubNqn, 8);
  // Each sequence ends in a Receive that must carry AUTH_Failure1 "incorrect protocol message".
  std::vector<std::function<void(FakeQueue&)>> wrong = {
      [&](FakeQueue& q) { EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message); },
      [&](FakeQueue& q) {  // Reply before Negotiate
        nvme::DhchapReply r{};
        r.auth_type = 1;
        r.auth_id = 2;
        Bytes m(sizeof r + 64);
        std::memcpy(m.data(), &r, sizeof r);
        EXPECT_TRUE(send(q, m).status().ok());
        EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message);
      },
      [&](FakeQueue& q) {  // Negotiate twice
        send(q, ref.negotiate());
        send(q, ref.negotiate());
        EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message);
      },
      [&](FakeQueue& q) {  // Success2 instead of Reply
        send(q, ref.negotiate());
        receive(q);
        nvme::DhchapSuccess2 s{};
        s.auth_type = 1;
        s.auth_id = 4;
        s.t_id = 8;
        Bytes m(sizeof s);
        std::memcpy(m.data(), &s, sizeof s);
        send(q, m);
        EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message);
      },
      [&](FakeQueue& q) {  // Failure2 in the middle, unknown AUTH_ID
        send(q, ref.negotiate());
        send(q, Bytes{0, 0x42, 0, 0, 8, 0, 0, 0});
        EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message);
      },
      [&](FakeQueue& q) {  // two Receives in a row: the second comes where the host should send its Reply
        send(q, ref.negotiate());
        receive(q);
        EXPECT_EQ(failure1(receive(q)), AuthFailure::incorrect_protocol_message);
      },
  };
  for (std::size_t i = 0; i < wrong.size(); ++i) {
    SCOPED_TRACE(i);
    auto q = new_queue();
    connect_pending(*q);
    wrong[i](*q);
    drain(300);
    EXPECT_TRUE(q->closed());
    verified_io(*by.io, 10 + i, static_cast<std::uint8_t>(i));
  }
}

TEST_F(AuthTest, MalformedMessagesGetIncorrectPayload) {
  auto by = bystander();
  auto creds = credentials();
  creds.dhgroups = {DhGroup::null};
  // Each case: Negotiate, Challenge, then a Reply altered by the lambda.
  std::vector<std::pair<const char*, std::function<void(Bytes&)>>> cases = {
      {"wrong T_ID", [](Bytes& m) { m[4] ^= 0xFF; }},
      {"truncated", [](Bytes& m) { m.erase(m.end() - 5, m.end()); }},
      {"longer than its fields", [](Bytes& m) { m.push_back(0); }},
      {"wrong HL", [](Bytes& m) { m[6] = 48; }},
      {"CVALID 2", [](Bytes& m) { m[8] = 2; }},
      {"CVALID without a sequence number", [](Bytes& m) { m[8] = 1; }},
      {"a DH value with the null group", [](Bytes& m) { m[10] = 4; m.insert(m.end(), 4, 1); }},
      {"header only", [](Bytes& m) { m.erase(m.begin() + 4, m.end()); }},
  };
  for (auto& [name, alter] : cases) {
    SCOPED_TRACE(name);
    auto q = new_queue();
    connect_pending(*q);
    DhchapHost host(creds, kHostNqn, kSubNqn, 0x1234);
    send(*q, host.negotiate());
    Bytes reply = host.on_challenge(bytes(receive(*q)));
    alter(reply);
    EXPECT_TRUE(send(*q, reply).status().ok());
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::incorrect_payload);
    drain(300);
    EXPECT_TRUE(q->closed());
  }
  verified_io(*by.io, 20, 0x33);
}

TEST_F(AuthTest, ResponseToAnotherSequenceNumberFails) {
  auto q = new_queue();
  connect_pending(*q);
  auto creds = credentials();
  creds.dhgroups = {DhGroup::null};
  DhchapHost host(creds, kHostNqn, kSubNqn, 1);
  send(*q, host.negotiate());
  auto challenge = receive(*q);
  Bytes msg(challenge.data.size());
  std::memcpy(msg.data(), challenge.data.data(), msg.size());
  msg[12] ^= 1;  // the host answers S1 + 1
  Bytes reply = host.on_challenge(msg);
  send(*q, reply);
  EXPECT_EQ(failure1(receive(*q)), AuthFailure::failed);
}

TEST_F(AuthTest, NegotiateDescriptors) {
  auto by = bystander();
  DhchapHost ref(credentials(), kHostNqn, kSubNqn, 2);
  const Bytes good = ref.negotiate();
  auto with_descriptors = [&](std::size_t n, bool chap_last) {
    Bytes m(good.begin(), good.begin() + 8);
    m[7] = static_cast<std::uint8_t>(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (chap_last && i == n - 1) {
        m.insert(m.end(), good.begin() + 8, good.end());
      } else {
        Bytes other(64, 0);
        other[0] = 0xE0;  // some other protocol
        m.insert(m.end(), other.begin(), other.end());
      }
    }
    return m;
  };
  {  // 255 descriptors (16 KiB, fetched from the host), DH-HMAC-CHAP last: accepted
    auto q = new_queue();
    connect_pending(*q);
    EXPECT_TRUE(send(*q, with_descriptors(255, true), /*in_capsule=*/false).status().ok());
    auto c = receive(*q);
    EXPECT_FALSE(failure1(c));
    EXPECT_EQ(as<nvme::DhchapChallenge>(c).auth_id, static_cast<std::uint8_t>(nvme::AuthId::challenge));
  }
  {  // 200 descriptors, none DH-HMAC-CHAP
    auto q = new_queue();
    connect_pending(*q);
    send(*q, with_descriptors(200, false), false);
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::protocol_unusable);
  }
  {  // NAPD says more than the payload holds
    auto q = new_queue();
    connect_pending(*q);
    Bytes m = with_descriptors(3, true);
    m[7] = 4;
    send(*q, m);
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::incorrect_payload);
  }
  {  // HALEN beyond the 30 slots
    auto q = new_queue();
    connect_pending(*q);
    Bytes m = good;
    m[8 + 2] = 31;
    send(*q, m);
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::incorrect_payload);
  }
  {  // secure channel concatenation asked for
    auto q = new_queue();
    connect_pending(*q);
    Bytes m = good;
    m[6] = 1;
    send(*q, m);
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::concat_mismatch);
  }
  {  // truncated below the header
    auto q = new_queue();
    connect_pending(*q);
    send(*q, Bytes(good.begin(), good.begin() + 5));
    EXPECT_EQ(failure1(receive(*q)), AuthFailure::incorrect_payload);
  }
  verified_io(*by.io, 30, 0x44);
}

TEST_F(AuthTest, CommandFieldsAreChecked) {
  auto q = new_queue();
  connect_pending(*q);
  DhchapHost ref(credentials(), kHostNqn, kSubNqn, 2);
  const Bytes neg = ref.negotiate();
  const auto len = static_cast<std::uint32_t>(neg.size());
  auto invalid_field = [](const Completion& c) {
    return c.status().sct() == NVME_SCT_GENERIC && c.status().sc() == NVME_SC_INVALID_FIELD && c.status().dnr();
  };
  EXPECT_TRUE(invalid_field(q->run(auth_sqe(nvme_fabrics_type_auth_send, len, 0xEA), len, neg.data())));
  auto bad_spsp = auth_sqe(nvme_fabrics_type_auth_send, len);
  bad_spsp.bytes()[41] = 0;
  EXPECT_TRUE(invalid_field(q->run(bad_spsp, len, neg.data())));
  EXPECT_TRUE(invalid_field(q->run(auth_sqe(nvme_fabrics_type_auth_send, 0), len, neg.data())));
  // TL that disagrees with the SGL
  auto c = q->run(auth_sqe(nvme_fabrics_type_auth_send, len + 8), len, neg.data());
  EXPECT_EQ(c.status().sc(), NVME_SC_SGL_INVALID_DATA);
  // A receive buffer too small even for AUTH_Failure1
  EXPECT_TRUE(invalid_field(q->run(auth_sqe(nvme_fabrics_type_auth_receive, 4), 4)));
  // None of these touched the transaction: it still succeeds.
  DhchapHost host(credentials(), kHostNqn, kSubNqn, 2);
  EXPECT_TRUE(authenticate(*q, host)) << host.error();
}

TEST_F(AuthTest, AuthenticationOnAQueueThatDidNotAskForIt) {
  auto q = new_queue();
  auto c = connect(*q, 0, 31, connect_data(kOpenHostNqn, kSubNqn));
  ASSERT_TRUE(c.status().ok());
  DhchapHost ref(credentials(), kOpenHostNqn, kSubNqn, 2);
  auto s = send(*q, ref.negotiate());
  EXPECT_EQ(s.status().sct(), NVME_SCT_GENERIC);
  EXPECT_EQ(s.status().sc(), NVME_SC_CMD_SEQ_ERROR);
  auto r = receive(*q);
  EXPECT_EQ(r.status().sc(), NVME_SC_CMD_SEQ_ERROR);
  // The queue goes on working.
  EXPECT_TRUE(q->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  EXPECT_FALSE(q->closed());
}

TEST_F(AuthTest, ReauthenticationWhileIoGoesOn) {
  auto [admin, io, cntlid] = admitted();
  ASSERT_FALSE(HasFailure());
  // The host asks again (nvme-cli / sysfs "dhchap_secret" rewrite): a new transaction, other commands keep going.
  DhchapHost again(credentials(true), kHostNqn, kSubNqn, 3);
  ASSERT_TRUE(send(*io, again.negotiate()).status().ok());
  verified_io(*io, 40, 0x55);
  auto challenge = receive(*io);
  Bytes reply = again.on_challenge(bytes(challenge));
  ASSERT_TRUE(send(*io, reply).status().ok());
  Bytes s2 = again.on_success1(bytes(receive(*io)));
  ASSERT_TRUE(send(*io, s2).status().ok());
  EXPECT_TRUE(again.authenticated()) << again.error();
  verified_io(*io, 41, 0x56);
}

// The Linux host re-authenticates with whatever is written to sysfs dhchap_secret: a secret the target does not
// know fails the new transaction, and the association ends although the queues were admitted (as nvmet's
// fatal error); another host's I/O goes on.
TEST_F(AuthTest, FailedReauthenticationEndsTheAssociation) {
  auto by = bystander();
  auto [admin, io, cntlid] = admitted();
  ASSERT_FALSE(HasFailure());
  verified_io(*io, 50, 0x31);
  auto creds = credentials();
  creds.host_key = generate_secret(32, Hash::sha256, kHostNqn);  // not the configured one
  DhchapHost again(creds, kHostNqn, kSubNqn, 3);
  EXPECT_FALSE(authenticate(*admin, again));
  EXPECT_EQ(again.failure(), AuthFailure::failed);
  drain(400);
  EXPECT_TRUE(admin->closed());
  EXPECT_TRUE(io->closed());
  EXPECT_EQ(controller(cntlid), nullptr);
  verified_io(*by.io, 51, 0x32);
}

TEST_F(AuthTest, KeyChangeAppliesToTheNextAuthentication) {
  auto admin = new_queue();
  connect_pending(*admin);
  DhchapHost first(credentials(), kHostNqn, kSubNqn, 1);
  ASSERT_TRUE(authenticate(*admin, first));
  const Secret next = generate_secret(64, Hash::sha512, kHostNqn);
  target::HostConfig h = *registry_->host(kHostNqn);
  h.dhchap_key = format_secret(next);
  registry_->set_host(h);
  // The admitted queue keeps working.
  EXPECT_TRUE(admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
  // A new queue must use the new key; the old one is refused.
  auto q = new_queue();
  connect_pending(*q);
  DhchapHost old_key(credentials(), kHostNqn, kSubNqn, 2);
  EXPECT_FALSE(authenticate(*q, old_key));
  auto q2 = new_queue();
  connect_pending(*q2);
  HostCredentials creds;
  creds.host_key = next;
  DhchapHost new_key(creds, kHostNqn, kSubNqn, 3);
  EXPECT_TRUE(authenticate(*q2, new_key)) << new_key.error();
}

class AuthTimeoutTest : public AuthTest {
 protected:
  void SetUp() override {
    target::ControllerSettings s;
    s.auth_timeout = std::chrono::milliseconds(30);
    setup(s);
  }
};

TEST_F(AuthTimeoutTest, AStalledTransactionEndsTheAssociation) {
  auto by = bystander();
  auto q = new_queue();
  const auto cntlid = connect_pending(*q);
  DhchapHost host(credentials(), kHostNqn, kSubNqn, 1);
  send(*q, host.negotiate());
  receive(*q);  // the challenge; no Reply follows
  for (int i = 0; i < 400 && !q->closed(); ++i) reactor_.run_once(std::chrono::milliseconds(2));
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(controller(cntlid), nullptr);
  verified_io(*by.io, 50, 0x66);
}

TEST_F(AuthTimeoutTest, AHostThatNeverStartsIsDroppedToo) {
  auto q = new_queue();
  connect_pending(*q);
  for (int i = 0; i < 400 && !q->closed(); ++i) reactor_.run_once(std::chrono::milliseconds(2));
  EXPECT_TRUE(q->closed());
}

}  // namespace
}  // namespace nvmf::test
