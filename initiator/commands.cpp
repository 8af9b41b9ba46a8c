#include "initiator/commands.hpp"

#include <algorithm>
#include <cstring>

namespace nvmf::initiator {

namespace {
nvme::Sqe io_command(std::uint8_t opcode, std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb) {
  nvme::Sqe sqe{};
  sqe.opcode = opcode;
  sqe.nsid = nsid;
  sqe.cdw10 = static_cast<std::uint32_t>(slba);
  sqe.cdw11 = static_cast<std::uint32_t>(slba >> 32);
  sqe.cdw12 = (nlb - 1) & 0xffff;
  return sqe;
}

constexpr std::uint32_t kFua = 1u << 30;
constexpr std::uint32_t kDeac = 1u << 25;

void copy_string(char* dst, std::size_t size, const std::string& src) {
  std::memset(dst, 0, size);
  std::memcpy(dst, src.data(), std::min(src.size(), size - 1));
}
}  // namespace

nvme::Sqe make_connect(std::uint16_t qid, std::uint16_t sqsize, std::uint32_t kato_ms) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_connect;
  c.recfmt = 0;
  c.qid = qid;
  c.sqsize = sqsize;
  // I/O queues disable SQ flow control: the host never has more than SQSIZE + 1 commands outstanding (one slot
  // per command), so it needs no SQHD, and the controller may then answer a successful read with the C2HData
  // SUCCESS flag alone, without a CapsuleResp (NVMe/TCP 3.6.2.8; Linux's disable_sqflow). The admin queue keeps it.
  c.cattr = qid != 0 ? nvme::kConnectCattrDisableSqFlowControl : 0;
  c.kato = kato_ms;
  return nvme::to_sqe(c);
}

nvmf_connect_data make_connect_data(const std::array<std::uint8_t, 16>& hostid, std::uint16_t cntlid,
                                    const std::string& subnqn, const std::string& hostnqn) {
  nvmf_connect_data d;
  std::memset(&d, 0, sizeof d);
  std::memcpy(d.hostid, hostid.data(), sizeof d.hostid);
  d.cntlid = cntlid;
  copy_string(d.subsysnqn, sizeof d.subsysnqn, subnqn);
  copy_string(d.hostnqn, sizeof d.hostnqn, hostnqn);
  return d;
}

nvme::Sqe make_property_get(std::uint32_t offset, bool eight_bytes) {
  nvme::PropertyCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_property_get;
  c.attrib = eight_bytes ? 1 : 0;
  c.offset = offset;
  return nvme::to_sqe(c);
}

nvme::Sqe make_property_set(std::uint32_t offset, std::uint64_t value, bool eight_bytes) {
  nvme::PropertyCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.fctype = nvme_fabrics_type_property_set;
  c.attrib = eight_bytes ? 1 : 0;
  c.offset = offset;
  c.value = value;
  return nvme::to_sqe(c);
}

nvme::Sqe make_identify(std::uint8_t cns, std::uint32_t nsid, std::uint16_t cntid) {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_identify;
  sqe.nsid = nsid;
  sqe.cdw10 = cns | std::uint32_t(cntid) << 16;
  return sqe;
}

nvme::Sqe make_get_log_page(std::uint8_t lid, std::uint32_t nsid, std::uint32_t length, std::uint64_t offset,
                            bool rae, std::uint8_t lsp) {
  const std::uint32_t numd = length / 4 - 1;  // 0's based dword count split over NUMDL and NUMDU
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_get_log_page;
  sqe.nsid = nsid;
  sqe.cdw10 = lid | std::uint32_t(lsp & 0x7f) << 8 | (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16;
  sqe.cdw11 = numd >> 16;
  sqe.cdw12 = static_cast<std::uint32_t>(offset);
  sqe.cdw13 = static_cast<std::uint32_t>(offset >> 32);
  return sqe;
}

nvme::Sqe make_set_features(std::uint8_t fid, std::uint32_t cdw11) {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_set_features;
  sqe.cdw10 = fid;
  sqe.cdw11 = cdw11;
  return sqe;
}

nvme::Sqe make_get_features(std::uint8_t fid, std::uint32_t nsid, std::uint8_t sel, std::uint32_t cdw11) {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_get_features;
  sqe.nsid = nsid;
  sqe.cdw10 = fid | std::uint32_t(sel & 0x7) << 8;
  sqe.cdw11 = cdw11;
  return sqe;
}

nvme::Sqe make_set_number_of_queues(std::uint16_t io_queues) {
  const std::uint32_t n = io_queues - 1u;
  return make_set_features(NVME_FEAT_FID_NUM_QUEUES, n | n << 16);
}

nvme::Sqe make_keep_alive() {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_keep_alive;
  return sqe;
}

nvme::Sqe make_async_event_request() {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_admin_async_event;
  return sqe;
}

nvme::Sqe make_read(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool fua) {
  nvme::Sqe sqe = io_command(nvme_cmd_read, nsid, slba, nlb);
  if (fua) sqe.cdw12 |= kFua;
  return sqe;
}

nvme::Sqe make_write(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool fua) {
  nvme::Sqe sqe = io_command(nvme_cmd_write, nsid, slba, nlb);
  if (fua) sqe.cdw12 |= kFua;
  return sqe;
}

nvme::Sqe make_compare(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb) {
  return io_command(nvme_cmd_compare, nsid, slba, nlb);
}

nvme::Sqe make_flush(std::uint32_t nsid) {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_cmd_flush;
  sqe.nsid = nsid;
  return sqe;
}

nvme::Sqe make_write_zeroes(std::uint32_t nsid, std::uint64_t slba, std::uint32_t nlb, bool deallocate) {
  nvme::Sqe sqe = io_command(nvme_cmd_write_zeroes, nsid, slba, nlb);
  if (deallocate) sqe.cdw12 |= kDeac;
  return sqe;
}

nvme::Sqe make_deallocate(std::uint32_t nsid, std::uint32_t ranges) {
  nvme::Sqe sqe{};
  sqe.opcode = nvme_cmd_dsm;
  sqe.nsid = nsid;
  sqe.cdw10 = (ranges - 1) & 0xff;
  sqe.cdw11 = NVME_DSMGMT_AD;
  return sqe;
}

}  // namespace nvmf::initiator
