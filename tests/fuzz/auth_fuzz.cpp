// libFuzzer harness: the DH-HMAC-CHAP messages (NVMe Base 2.0, 8.13.5). Controller role: the target's
// DhchapController fed Authentication Send payloads (AUTH_Negotiate with any number of descriptors, Reply of any
// length, Success2, Failure2, anything) and Authentication Receives of any length. Host role: the host's
// DhchapHost fed Challenge, Success1 and Failure1 messages of any content. In both roles an honest peer built from
// the same credentials can take a step instead of the fuzzer, so the transaction gets to its later states.
//
// Input: [kind][op: 1][length: 2 LE][payload]... kind bit 0: host role; bit 1: bidirectional (controller key);
// bit 2: ffdhe2048 allowed beside the null group (larger groups cost too much per input); bits 3-4: the only
// hash allowed (0: all). Controller role ops (op % 3): 0 Send of the payload, 1 Receive with AL = length (no
// payload), 2 the honest host's next message is sent (no payload). Host role ops (op % 2): 0 the payload is the
// controller's message, 1 the honest controller answers what the host last sent (no payload).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fabric/log.hpp"
#include "nvme/auth_wire.hpp"
#include "nvme/dhchap_host.hpp"
#include "target/auth/dhchap_controller.hpp"

using namespace nvmf;
using namespace nvmf::nvme::dhchap;
using nvme::AuthId;
using nvme::AuthType;
using State = target::DhchapController::State;

namespace {

constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:12345678-1234-4234-8234-123456789abc";
constexpr const char* kSubNqn = "nqn.2024-01.io.nvmf:fuzz";
constexpr std::size_t kMaxSteps = 24;  // each step may cost a DH key: bounded per input

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool record(std::uint8_t* op, std::uint16_t* length) {
    if (n < 3) return false;
    *op = p[0];
    *length = static_cast<std::uint16_t>(p[1] | p[2] << 8);
    p += 3, n -= 3;
    return true;
  }
  std::span<const std::uint8_t> take(std::size_t want) {
    const std::size_t k = std::min(want, n);
    std::span<const std::uint8_t> out(p, k);
    p += k, n -= k;
    return out;
  }
};

struct Keys {
  Secret host, ctrl;
  Keys() {
    host.key_hash = Hash::sha256;
    ctrl.key_hash = std::nullopt;
    for (std::uint8_t i = 0; i < 32; ++i) host.key.push_back(static_cast<std::uint8_t>(i * 5 + 1));
    for (std::uint8_t i = 0; i < 48; ++i) ctrl.key.push_back(static_cast<std::uint8_t>(i * 3 + 7));
  }
};

struct Setup {
  target::DhchapCredentials target;
  HostCredentials host;
};

Setup setup(std::uint8_t kind) {
  static const Keys keys;
  Setup s;
  const bool bidirectional = kind & 2;
  s.target.host_key = keys.host;
  s.target.ctrl_key = keys.ctrl;
  s.target.dhgroups = {DhGroup::null};
  if (kind & 4) s.target.dhgroups.push_back(DhGroup::ffdhe2048);
  if (const unsigned h = (kind >> 3) & 3) s.target.hashes = {static_cast<Hash>(h)};
  s.host.host_key = keys.host;
  if (bidirectional) s.host.ctrl_key = keys.ctrl;
  s.host.dhgroups = s.target.dhgroups;
  return s;
}

/// What on_receive wrote must be a whole, well-formed controller message of the transaction.
void check_controller_message(const target::DhchapController& ctrl, std::span<const std::uint8_t> m) {
  if (m.size() < sizeof(nvme::AuthFailureMessage)) finding("controller message shorter than a header");
  std::uint16_t t_id;
  std::memcpy(&t_id, m.data() + 4, 2);
  if (t_id != ctrl.t_id()) finding("controller message with another T_ID");
  const auto type = static_cast<AuthType>(m[0]);
  const auto id = static_cast<AuthId>(m[1]);
  if (type == AuthType::common && id == AuthId::failure1) {
    if (m.size() != sizeof(nvme::AuthFailureMessage) || ctrl.state() != State::failed)
      finding("AUTH_Failure1 of the wrong size, or without failing the transaction");
    return;
  }
  if (type != AuthType::dhchap || m.size() < sizeof(nvme::DhchapChallenge)) finding("unknown controller message");
  if (id == AuthId::challenge) {
    nvme::DhchapChallenge c;
    std::memcpy(&c, m.data(), sizeof c);
    auto hash = hash_from_id(c.hashid);
    auto group = dhgroup_from_id(c.dhgid);
    if (!hash || !group || c.hl != hash_length(*hash) || c.dhvlen != dh_value_length(*group) || c.seqnum == 0 ||
        m.size() != sizeof c + c.hl + c.dhvlen)
      finding("malformed challenge");
  } else if (id != AuthId::success1) {
    finding("controller sent neither Challenge, Success1 nor Failure1");
  }
}

void controller_role(std::uint8_t kind, Reader in) {
  Setup s = setup(kind);
  target::DhchapController ctrl(s.target, kHostNqn, kSubNqn);
  DhchapHost honest(s.host, kHostNqn, kSubNqn, 0x1234);
  int honest_stage = 0;  // 0 negotiate next, 1 reply next, 2 success2 next, 3 done
  Bytes last;            // the last controller message received
  std::vector<std::uint8_t> buffer;
  bool was_failed = false;
  std::uint8_t op;
  std::uint16_t length;
  for (std::size_t step = 0; step < kMaxSteps && in.record(&op, &length); ++step) {
    const State before = ctrl.state();
    switch (op % 3) {
      case 0: {
        ctrl.on_send(in.take(length));
        // No forged Reply (the fuzzer does not have the key) may be accepted.
        if (before == State::reply && (ctrl.state() == State::success1 || ctrl.state() == State::authenticated))
          finding("a reply not computed with the host key was accepted");
        break;
      }
      case 1: {
        buffer.assign(length, 0xA5);
        const std::size_t n = ctrl.on_receive(buffer);
        if (n > buffer.size()) finding("receive wrote past AL");
        if (n == 0) {
          if (buffer.size() >= sizeof(nvme::AuthFailureMessage)) finding("receive failed although AL holds a Failure1");
          break;
        }
        last.assign(buffer.begin(), buffer.begin() + static_cast<long>(n));
        check_controller_message(ctrl, last);
        break;
      }
      case 2: {
        Bytes message;
        if (honest_stage == 0) {
          message = honest.negotiate();
        } else if (honest_stage == 1 && !last.empty()) {
          message = honest.on_challenge(last);
        } else if (honest_stage == 2 && !last.empty() && !honest.failed()) {
          message = honest.on_success1(last);
        }
        ++honest_stage;
        if (!message.empty()) ctrl.on_send(message);
        break;
      }
    }
    if (was_failed && ctrl.state() == State::authenticated) finding("a failed transaction became authenticated");
    was_failed = was_failed || ctrl.state() == State::failed;
    if (ctrl.state() == State::failure1 && !ctrl.failure()) finding("failing without a reason");
  }
}

void host_role(std::uint8_t kind, Reader in) {
  Setup s = setup(kind);
  target::DhchapController honest(s.target, kHostNqn, kSubNqn);
  DhchapHost host(s.host, kHostNqn, kSubNqn, 0x4321);
  honest.on_send(host.negotiate());
  bool challenged = false;  // the host answered a Challenge; next it expects Success1
  std::vector<std::uint8_t> buffer(DhchapHost::kReceiveLength);
  std::uint8_t op;
  std::uint16_t length;
  for (std::size_t step = 0; step < kMaxSteps && !host.failed() && !host.authenticated() && in.record(&op, &length);
       ++step) {
    std::span<const std::uint8_t> message;
    const bool from_fuzzer = op % 2 == 0;
    if (from_fuzzer) {
      message = in.take(length);
    } else {
      const std::size_t n = honest.on_receive(buffer);
      // The initiator hands the whole receive buffer over: the wire does not say how much was filled.
      message = std::span<const std::uint8_t>(buffer.data(), n ? buffer.size() : 0);
    }
    const Bytes answer = challenged ? host.on_success1(message) : host.on_challenge(message);
    if (host.failed()) {
      if (host.error().empty()) finding("host failed without a reason");
      if (!answer.empty() && (answer.size() != sizeof(nvme::AuthFailureMessage) ||
                              answer[1] != static_cast<std::uint8_t>(AuthId::failure2)))
        finding("a failing host answers with something else than AUTH_Failure2");
      break;
    }
    if (challenged && host.authenticated() && s.host.ctrl_key && from_fuzzer)
      finding("the host accepted a controller response the fuzzer made up");
    if (!challenged) {
      nvme::DhchapReply r;
      if (answer.size() < sizeof r) finding("host reply too short");
      std::memcpy(&r, answer.data(), sizeof r);
      if (answer.size() != sizeof r + 2 * std::size_t{r.hl} + r.dhvlen || r.cvalid != (s.host.ctrl_key ? 1 : 0))
        finding("malformed host reply");
      challenged = true;
    }
    if (!answer.empty()) honest.on_send(answer);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::error);  // every failed transaction logs at info: too much for a fuzzer
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  Reader in{data + 1, size - 1};
  if (data[0] & 1)
    host_role(data[0], in);
  else
    controller_role(data[0], in);
  return 0;
}
