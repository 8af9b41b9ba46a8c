// Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/) with the project's own encoders:
// PDUs from fabric/tcp/codec.hpp, commands from initiator/commands.hpp, configurations from to_json, CM private
// data from cm_private_data.hpp. The committed files are this program's output; the fuzz suite checks that they
// still are (corpus_up_to_date), so a change to an encoder shows up as a corpus change.
//
// Usage: make_fuzz_corpus OUTPUT_DIR   (creates OUTPUT_DIR/<harness>/<name>)
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fabric/rdma/cm_private_data.hpp"
#include "fabric/tcp/codec.hpp"
#include "initiator/commands.hpp"
#include "nvme/auth_wire.hpp"
#include "nvme/dhchap_host.hpp"
#include "nvme/crc32c.hpp"
#include "nvme/tls_psk.hpp"
#include "target/config_json.hpp"
#include "tls_key_fixture.hpp"

using namespace nvmf;
using namespace nvmf::fabric::tcp;
using Bytes = std::vector<std::uint8_t>;

namespace {

std::string g_root;

void write(const std::string& harness, const std::string& name, const Bytes& bytes) {
  const std::string dir = g_root + "/" + harness;
  ::mkdir(g_root.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                           static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void append(Bytes& out, const T& value) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}
void append(Bytes& out, const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }

/// [flags][cut seed] as stream_support.hpp reads them.
Bytes stream_prefix(std::uint8_t flags, std::uint32_t seed) {
  Bytes b{flags};
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(seed >> (8 * i)));
  return b;
}

/// A data-carrying PDU: header as built, padding, data, data digest when on.
void append_pdu(Bytes& out, const std::uint8_t* head, const PduLayout& l, const Bytes& data, Digests d) {
  append(out, head, l.header_len);
  out.insert(out.end(), l.pad_len, 0);
  out.insert(out.end(), data.begin(), data.end());
  if (d.data && !data.empty()) {
    std::uint8_t digest[4];
    put_le32(digest, nvme::crc32c(data.data(), data.size()));
    append(out, digest, 4);
  }
}

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return b;
}

// ---- tcp_controller: what a host sends ----

void capsule(Bytes& out, nvme::Sqe sqe, std::uint16_t cid, const Bytes& in_capsule, std::uint32_t transport_len,
             Digests d) {
  sqe.cid = cid;
  sqe.flags = nvme::kPsdtSgl;
  sqe.dptr = {};
  if (!in_capsule.empty()) {
    sqe.dptr.length = static_cast<std::uint32_t>(in_capsule.size());
    sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
  } else {
    sqe.dptr.length = transport_len;
    sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::transport_data_block,
                                               nvme::SglSubtype::transport_specific);
  }
  std::uint8_t head[kMaxDigestedHeader];
  append_pdu(out, head, build_capsule_cmd(head, sqe, d, static_cast<std::uint32_t>(in_capsule.size()), 4),
             in_capsule, d);
}

Bytes connect_data_bytes(std::uint16_t cntlid) {
  std::array<std::uint8_t, 16> hostid{};
  for (int i = 0; i < 16; ++i) hostid[i] = static_cast<std::uint8_t>(0xA0 + i);
  auto cd = initiator::make_connect_data(hostid, cntlid, "nqn.2024-01.io.nvmf:fuzz",
                                         "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555");
  Bytes b;
  append(b, cd);
  return b;
}

void tcp_controller() {
  for (std::uint8_t dgst : {0, 1, 2, 3}) {
    const Digests d = Digests::from_bits(dgst);
    Bytes s = stream_prefix(dgst == 3 ? 1 : 0, 0x1234567u + dgst);
    append(s, build_ic_req(0, dgst, 0));
    capsule(s, initiator::make_connect(1, 31, 0), 1, connect_data_bytes(0xFFFF), 0, d);
    capsule(s, initiator::make_read(1, 0, 8), 2, {}, 4096, d);             // C2HData back
    capsule(s, initiator::make_write(1, 0, 1), 3, pattern(512), 0, d);     // in-capsule
    capsule(s, initiator::make_flush(1), 4, {}, 0, d);
    write("tcp_controller", "connect_read_write_flush_dgst" + std::to_string(dgst), s);
  }
  // A write through R2T: the queue names the request by its pool slot (TTAG). The Connect took slot 0, which is
  // still held by its CapsuleResp in the sender when the write arrives: the write gets slot 1.
  for (std::uint8_t flags : {0, 1, 2, 4}) {
    const Digests d{};
    Bytes s = stream_prefix(flags, 0xC0FFEEu + flags);
    append(s, build_ic_req(0, 0, 0));
    capsule(s, initiator::make_connect(1, 31, 0), 1, connect_data_bytes(0xFFFF), 0, d);
    capsule(s, initiator::make_write(1, 0, 16), 7, {}, 8192, d);
    std::uint8_t head[kMaxDigestedHeader];
    const std::uint32_t window = (flags & 1) ? 4096 : 8192;
    for (std::uint32_t off = 0; off < 8192; off += window)
      append_pdu(s, head, build_h2c_data(head, 7, 1, off, window, true, d, 4), pattern(window), d);
    write("tcp_controller", "write_through_r2t_flags" + std::to_string(flags), s);
  }
  Bytes term = stream_prefix(0, 99);
  append(term, build_ic_req(0, 0, 0));
  std::uint8_t buf[kTermReqBufferSize];
  std::uint32_t plen = build_term_req(buf, pdu::PduType::h2c_term_req, {pdu::TermFes::invalid_header_field, 2},
                                      nullptr, 0);
  append(term, buf, plen);
  write("tcp_controller", "h2c_term_req", term);
}

// ---- tcp_host: what a controller sends (tcp_host_fuzz.cpp has CIDs 0..3 outstanding) ----

void resp(Bytes& out, std::uint16_t cid, Digests d) {
  nvme::Cqe cqe{};
  cqe.cid = cid;
  std::uint8_t head[kMaxDigestedHeader];
  append(out, head, build_capsule_resp(head, cqe, d).header_len);
}

void tcp_host() {
  for (std::uint8_t dgst : {0, 1, 2, 3}) {
    const Digests d = Digests::from_bits(dgst);
    Bytes s = stream_prefix(dgst, 0xABCDEFu + dgst);
    append(s, build_ic_resp(0, dgst, 8192));
    std::uint8_t head[kMaxDigestedHeader];
    // CID 0: 6 KiB read in two C2HData PDUs, then its response.
    append_pdu(s, head, build_c2h_data(head, 0, 0, 4096, 0, d, 4), pattern(4096), d);
    append_pdu(s, head, build_c2h_data(head, 0, 4096, 2048, pdu::kFlagLastPdu, d, 4), pattern(2048), d);
    resp(s, 0, d);
    // CID 1: 20 KiB write, asked for in R2Ts of MAXH2CDATA, one at a time.
    append(s, head, build_r2t(head, 1, 3, 0, 8192, d).header_len);
    append(s, head, build_r2t(head, 1, 3, 8192, 8192, d).header_len);
    append(s, head, build_r2t(head, 1, 3, 16384, 4096, d).header_len);
    resp(s, 1, d);
    resp(s, 2, d);
    resp(s, 3, d);
    write("tcp_host", "read_write_nodata_dgst" + std::to_string(dgst), s);
  }
  // A read answered with SUCCESS in the last C2HData (no CapsuleResp), the others by C2HTermReq.
  Bytes s = stream_prefix(0, 7);
  append(s, build_ic_resp(0, 0, 8192));
  std::uint8_t head[kMaxDigestedHeader];
  append_pdu(s, head, build_c2h_data(head, 0, 0, 6144, pdu::kFlagLastPdu | pdu::kFlagSuccess, {}, 4), pattern(6144),
             {});
  std::uint8_t buf[kTermReqBufferSize];
  std::uint32_t plen = build_term_req(buf, pdu::PduType::c2h_term_req, {pdu::TermFes::invalid_header_field, 2},
                                      nullptr, 0);
  append(s, buf, plen);
  write("tcp_host", "read_success_then_term_req", s);
}

// ---- target_commands: [queue][SQE][length][data] records after a flags byte ----

void record(Bytes& out, std::uint8_t queue, const nvme::Sqe& sqe, std::uint16_t length, const Bytes& data = {}) {
  out.push_back(queue);
  append(out, sqe);
  out.push_back(static_cast<std::uint8_t>(length));
  out.push_back(static_cast<std::uint8_t>(length >> 8));
  out.insert(out.end(), data.begin(), data.end());
}

void target_commands() {
  Bytes admin{1};  // admin queue connected and enabled
  record(admin, 0, initiator::make_identify(NVME_IDENTIFY_CNS_CTRL, 0), 4096);
  record(admin, 0, initiator::make_identify(NVME_IDENTIFY_CNS_NS, 1), 4096);
  record(admin, 0, initiator::make_identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0), 4096);
  record(admin, 0, initiator::make_identify(NVME_IDENTIFY_CNS_NS_DESC_LIST, 1), 4096);
  record(admin, 0, initiator::make_get_log_page(NVME_LOG_LID_SMART, NVME_NSID_ALL, 512, 0), 512);
  record(admin, 0, initiator::make_get_log_page(NVME_LOG_LID_ERROR, NVME_NSID_ALL, 64, 0), 64);
  record(admin, 0, initiator::make_get_log_page(NVME_LOG_LID_CHANGED_NS, NVME_NSID_ALL, 4096, 0), 4096);
  record(admin, 0, initiator::make_set_number_of_queues(4), 0);
  record(admin, 0, initiator::make_get_features(NVME_FEAT_FID_NUM_QUEUES), 0);
  record(admin, 0, initiator::make_set_features(NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_NA), 0);
  record(admin, 0, initiator::make_async_event_request(), 0);
  record(admin, 0, initiator::make_keep_alive(), 0);
  record(admin, 0, initiator::make_property_get(NVME_REG_CAP, true), 0);
  record(admin, 0, initiator::make_property_get(NVME_REG_CSTS, false), 0);
  record(admin, 0, initiator::make_property_set(NVME_REG_CC, 0, false), 0);  // disable: controller reset
  write("target_commands", "admin_identify_logs_features", admin);

  Bytes io{1 | 2 | 4};  // admin and I/O queue 1 connected, two namespaces
  record(io, 1, initiator::make_write(1, 0, 8), 4096, pattern(4096));
  record(io, 1, initiator::make_read(1, 0, 8), 4096);
  record(io, 1, initiator::make_compare(1, 0, 8), 4096, pattern(4096));
  record(io, 1, initiator::make_write(2, 1, 1), 4096, pattern(4096));
  record(io, 1, initiator::make_write_zeroes(1, 8, 16, true), 0);
  Bytes ranges(16, 0);
  ranges[4] = 8;  // nvme_dsm_range: cattr, nlb 8, slba 0
  record(io, 1, initiator::make_deallocate(1, 1), 16, ranges);
  record(io, 1, initiator::make_flush(1), 0);
  record(io, 1, initiator::make_read(1, 500, 100), 51200);  // past the end
  write("target_commands", "io_read_write_compare_zeroes_dsm", io);

  Bytes raw{0};  // nothing connected: the host's own Connect, then the enable sequence
  auto cd = connect_data_bytes(0xFFFF);
  record(raw, 0, initiator::make_connect(0, 31, 15000), static_cast<std::uint16_t>(cd.size()), cd);
  record(raw, 0, initiator::make_property_get(NVME_REG_CAP, true), 0);
  record(raw, 0, initiator::make_property_set(NVME_REG_CC, 0x460061, false), 0);
  record(raw, 0, initiator::make_property_get(NVME_REG_CSTS, false), 0);
  auto io_cd = connect_data_bytes(1);
  record(raw, 1, initiator::make_connect(1, 31, 0), static_cast<std::uint16_t>(io_cd.size()), io_cd);
  record(raw, 1, initiator::make_read(1, 0, 1), 512);
  write("target_commands", "connect_enable_io", raw);
}

// ---- config_json ----

void text(const std::string& harness, const std::string& name, const std::string& s) {
  write(harness, name, Bytes(s.begin(), s.end()));
}

void config_json() {
  target::TargetConfig c;
  c.listeners.push_back({fabric::TransportType::tcp, false, "127.0.0.1", "4420"});
  c.listeners.push_back({fabric::TransportType::rdma, true, "::1", "4421"});
  c.listener_subsystems[1] = {"nqn.2024-01.io.nvmf:a"};
  target::SubsystemConfig a;
  a.nqn = "nqn.2024-01.io.nvmf:a";
  a.serial = "SER1";
  a.allowed_hosts = {"nqn.2014-08.org.nvmexpress:uuid:h1"};
  target::NamespaceConfig ram;
  ram.kind = target::BackendKind::ram;
  ram.size = 1 << 20;
  a.namespaces.push_back(ram);
  target::NamespaceConfig file;
  file.kind = target::BackendKind::file;
  file.path = "/tmp/x.img";
  file.nsid = 5;
  file.block_size = 4096;
  file.hosts = {"nqn.2014-08.org.nvmexpress:uuid:h1"};
  file.uuid = std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  a.namespaces.push_back(file);
  c.subsystems.push_back(a);
  target::HostConfig host;
  host.nqn = "nqn.2014-08.org.nvmexpress:uuid:h1";
  c.hosts.push_back(host);
  target::ReferralConfig r;
  r.address = {fabric::TransportType::tcp, false, "127.0.0.2", "8009"};
  c.referrals.push_back(r);
  c.cores = {0, 1};
  c.limits.max_r2t_commands = 4;
  text("config_json", "native_full", target::to_json(c).dump(1));
  text("config_json", "native_minimal", target::to_json(target::TargetConfig{}).dump());
  // nvmetcli has no encoder here: its schema as nvmetcli's `saveconfig` writes it (ports, attr, device).
  text("config_json", "nvmetcli_saveconfig", R"({
 "hosts": [{"nqn": "nqn.2014-08.org.nvmexpress:uuid:h1"}],
 "ports": [
  {"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "treq": "not specified", "trsvcid": "4420", "trtype": "tcp"},
   "param": {"inline_data_size": "16384"}, "portid": 1,
   "referrals": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.2", "treq": "not specified", "trsvcid": "8009",
                           "trtype": "tcp"}, "name": "r1", "portid": 3, "enable": 1}],
   "subsystems": ["nqn.2014-08.org.example:sub1"]}],
 "subsystems": [
  {"nqn": "nqn.2014-08.org.example:sub1",
   "attr": {"allow_any_host": "0", "serial": "abcdef0123", "model": "Linux", "version": "1.3",
            "cntlid_min": "1", "cntlid_max": "65519"},
   "allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:h1"],
   "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "/tmp/x.img",
                   "uuid": "11111111-2222-3333-4444-555555555555"}}]}]
}
)");
}

// ---- host_identify: [kind][payload] ----

void host_identify() {
  Bytes log{0};
  std::uint8_t header[1024]{};
  const std::uint64_t genctr = 3, numrec = 2;
  std::memcpy(header, &genctr, 8);
  std::memcpy(header + 8, &numrec, 8);
  append(log, header, sizeof header);
  for (std::uint8_t i = 0; i < numrec; ++i) {
    nvmf_disc_log_entry e{};
    e.trtype = NVMF_TRTYPE_TCP;
    e.adrfam = NVMF_ADDR_FAMILY_IP4;
    e.subtype = i ? NVME_NQN_NVME : NVME_NQN_CURR;
    e.treq = NVMF_TREQ_NOT_REQUIRED;
    e.portid = 1;
    e.cntlid = 0xFFFF;
    e.asqsz = 32;
    std::memcpy(e.trsvcid, "4420", 4);
    std::memcpy(e.traddr, "127.0.0.1", 9);
    std::strcpy(e.subnqn, i ? "nqn.2024-01.io.nvmf:fuzz" : "nqn.2014-08.org.nvmexpress.discovery");
    append(log, e);
  }
  write("host_identify", "discovery_log_two_entries", log);

  Bytes ns{1};
  const std::uint32_t max_transfer = 128 * 1024;
  append(ns, max_transfer);
  nvme_id_ns id{};
  id.nsze = id.ncap = id.nuse = 2048;
  id.nlbaf = 1;
  id.flbas = 1;
  id.lbaf[0].ds = 9;
  id.lbaf[1].ds = 12;
  append(ns, id);
  write("host_identify", "identify_namespace_4k", ns);
}

// ---- rdma_cm: [control][private data] ----

void rdma_cm() {
  using namespace nvmf::fabric::rdma;
  const std::uint8_t control = 7 | 1 << 3 | 4 << 5;  // depth 128, device read depth 9, host IRD 16
  Bytes req{control};
  append(req, make_connect_request(1, 32, 1));
  req.resize(1 + 56, 0);  // the IB CM pads a REQ's private data to 56 bytes
  write("rdma_cm", "connect_request_io_queue", req);
  Bytes admin{control};
  append(admin, make_connect_request(0, 32, 0xFFFF));
  write("rdma_cm", "connect_request_admin", admin);
  Bytes acc{control};
  append(acc, make_accept(32));
  write("rdma_cm", "accept", acc);
  Bytes rej{control};
  append(rej, make_reject(nvme::rdma::CmRejectStatus::invalid_hsqsize));
  write("rdma_cm", "reject_hsqsize", rej);
}

// ---- auth: [kind] then [op][length: 2][payload]... (auth_fuzz.cpp) ----

void auth_record(Bytes& out, std::uint8_t op, std::uint16_t length, const Bytes& payload = {}) {
  out.push_back(op);
  out.push_back(static_cast<std::uint8_t>(length));
  out.push_back(static_cast<std::uint8_t>(length >> 8));
  out.insert(out.end(), payload.begin(), payload.end());
}
Bytes auth_send(const Bytes& message) {
  Bytes b;
  auth_record(b, 0, static_cast<std::uint16_t>(message.size()), message);
  return b;
}
Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void auth() {
  using namespace nvme;
  using namespace nvme::dhchap;
  const std::uint16_t receive_all = 4096;
  Bytes honest_step, receive, receive_short;
  auth_record(honest_step, 2, 0);
  auth_record(receive, 1, receive_all);
  auth_record(receive_short, 1, 7);
  // Controller role (kind bit 0 clear): the honest host's transaction, then hand-made messages.
  write("auth", "ctrl_honest_null", Bytes{0} + honest_step + receive + honest_step + receive);
  write("auth", "ctrl_honest_bidirectional_ffdhe2048",
        Bytes{2 | 4} + honest_step + receive + honest_step + receive + honest_step);
  write("auth", "ctrl_receive_too_short", Bytes{0} + receive_short);

  AuthNegotiate neg{};
  neg.auth_type = static_cast<std::uint8_t>(AuthType::common);
  neg.auth_id = static_cast<std::uint8_t>(AuthId::negotiate);
  neg.t_id = 7;
  neg.napd = 255;
  Bytes many;
  append(many, neg);
  for (int i = 0; i < 255; ++i) {
    AuthProtocolDescriptor d{};
    d.authid = i == 254 ? kAuthIdDhchap : static_cast<std::uint8_t>(0x80 + i % 64);
    d.halen = 3;
    d.dhlen = 2;
    d.idlist[0] = 1, d.idlist[1] = 2, d.idlist[2] = 3;
    d.idlist[kDescriptorHashSlots] = 0, d.idlist[kDescriptorHashSlots + 1] = 1;
    append(many, d);
  }
  write("auth", "ctrl_negotiate_255_descriptors", Bytes{4} + auth_send(many) + receive);

  DhchapReply reply{};
  reply.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
  reply.auth_id = static_cast<std::uint8_t>(AuthId::reply);
  reply.t_id = 0x1234;
  reply.hl = 64;
  Bytes short_reply;
  append(short_reply, reply);
  Bytes r = pattern(40);
  short_reply.insert(short_reply.end(), r.begin(), r.end());
  write("auth", "ctrl_reply_truncated", Bytes{0} + honest_step + receive + auth_send(short_reply) + receive);

  AuthFailureMessage f2{};
  f2.auth_type = static_cast<std::uint8_t>(AuthType::common);
  f2.auth_id = static_cast<std::uint8_t>(AuthId::failure2);
  f2.t_id = 0x1234;
  f2.rescode = kAuthFailureReason;
  f2.rescode_exp = static_cast<std::uint8_t>(AuthFailure::failed);
  Bytes failure2;
  append(failure2, f2);
  write("auth", "ctrl_failure2_after_success1",
        Bytes{2} + honest_step + receive + honest_step + receive + auth_send(failure2) + receive);

  // Host role (kind bit 0 set): the honest controller's messages, then hand-made ones.
  Bytes controller_step;
  auth_record(controller_step, 1, 0);
  write("auth", "host_honest_null", Bytes{1} + controller_step + controller_step);
  write("auth", "host_honest_bidirectional_ffdhe2048", Bytes{1 | 2 | 4} + controller_step + controller_step);

  DhchapChallenge ch{};
  ch.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
  ch.auth_id = static_cast<std::uint8_t>(AuthId::challenge);
  ch.t_id = 0x4321;
  ch.hl = 32;
  ch.hashid = static_cast<std::uint8_t>(Hash::sha256);
  ch.dhgid = static_cast<std::uint8_t>(DhGroup::null);
  ch.seqnum = 1;
  Bytes challenge;
  append(challenge, ch);
  Bytes c1 = pattern(32);
  challenge.insert(challenge.end(), c1.begin(), c1.end());
  DhchapSuccess1 s1{};
  s1.auth_type = static_cast<std::uint8_t>(AuthType::dhchap);
  s1.auth_id = static_cast<std::uint8_t>(AuthId::success1);
  s1.t_id = 0x4321;
  s1.hl = 32;
  s1.rvalid = 1;
  Bytes success1;
  append(success1, s1);
  success1.insert(success1.end(), c1.begin(), c1.end());
  write("auth", "host_challenge_then_success1", Bytes{1} + auth_send(challenge) + auth_send(success1));
  write("auth", "host_bidirectional_wrong_response", Bytes{1 | 2} + auth_send(challenge) + auth_send(success1));
  AuthFailureMessage f1 = f2;
  f1.auth_id = static_cast<std::uint8_t>(AuthId::failure1);
  f1.t_id = 0x4321;
  Bytes failure1;
  append(failure1, f1);
  write("auth", "host_failure1", Bytes{1} + auth_send(failure1));
}

// ---- tls_key: [mode][text] (tls_key_fuzz.cpp) ----

void tls_key() {
  namespace tls = nvme::tls;
  const auto seed = [](std::uint8_t mode, const std::string& text) {
    Bytes b{mode};
    b.insert(b.end(), text.begin(), text.end());
    return b;
  };
  const std::string host = "nqn.2014-08.org.nvmexpress:uuid:12345678-1234-4234-8234-123456789abc";
  const std::string sub = "nqn.2024-01.io.nvmf:fuzz";
  for (unsigned k = 0; k < fuzz::kTlsFuzzKeys; ++k) {
    const tls::ConfiguredPsk key = fuzz::tls_fuzz_key(k);
    const std::string n = std::to_string(k);
    write("tls_key", "interchange_" + n, seed(0, tls::format_interchange(key)));
    for (int version = 0; version <= 1; ++version) {
      const auto psk = tls::derive_tls_psk(key, host, sub, version);
      write("tls_key", "identity_v" + std::to_string(version) + "_key" + n,
            seed(static_cast<std::uint8_t>(1 | k << 1), psk.identity));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  tcp_controller();
  tcp_host();
  target_commands();
  config_json();
  host_identify();
  rdma_cm();
  auth();
  tls_key();
  return 0;
}
