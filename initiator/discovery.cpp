#include "initiator/discovery.hpp"

#include <cstring>
#include <memory>

#include "nvme/fabrics.hpp"
#include "nvme/libnvme.hpp"
extern "C" {
#include <nvme/fabrics.h>
}

namespace nvmf::initiator {

namespace {
constexpr std::size_t kHeaderSize = 1024;
constexpr std::size_t kEntrySize = sizeof(nvmf_disc_log_entry);
static_assert(kEntrySize == 1024);
static_assert(offsetof(nvmf_disc_log_entry, trsvcid) == 32);
static_assert(offsetof(nvmf_disc_log_entry, subnqn) == 256);
static_assert(offsetof(nvmf_disc_log_entry, traddr) == 512);
static_assert(offsetof(nvmf_disc_log_entry, tsas) == 768);
// A log larger than this is not a discovery log but a bug: refuse it rather than allocate gigabytes.
constexpr std::uint64_t kMaxRecords = 4096;

// Discovery log strings are fixed-size fields, space or NUL padded (NVMe-oF 5.4: ASCII, space padded for
// TRSVCID and TRADDR; NUL padded NQNs).
std::string field_string(const char* p, std::size_t size) {
  std::size_t n = strnlen(p, size);
  while (n > 0 && p[n - 1] == ' ') --n;
  return std::string(p, n);
}

std::string or_unknown(const char* s, unsigned v) {
  return s ? std::string(s) : "unrecognized (" + std::to_string(v) + ")";
}

struct Header {
  std::uint64_t genctr;
  std::uint64_t numrec;
  std::uint16_t recfmt;
};

Header read_header(const std::uint8_t* p) {
  Header h;
  std::memcpy(&h.genctr, p + 0, 8);
  std::memcpy(&h.numrec, p + 8, 8);
  std::memcpy(&h.recfmt, p + 16, 2);
  return h;
}
}  // namespace

bool parse_discovery_log(const void* data, std::size_t length, DiscoveryLog* out, std::string* why) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  if (length < kHeaderSize) {
    if (why) *why = "discovery log shorter than its 1024-byte header";
    return false;
  }
  Header h = read_header(p);
  if (h.numrec > kMaxRecords || length < kHeaderSize + h.numrec * kEntrySize) {
    if (why)
      *why = "discovery log of " + std::to_string(length) + " bytes cannot hold NUMREC " + std::to_string(h.numrec) +
             " records";
    return false;
  }
  out->genctr = h.genctr;
  out->recfmt = h.recfmt;
  out->entries.clear();
  for (std::uint64_t i = 0; i < h.numrec; ++i) {
    nvmf_disc_log_entry e;
    std::memcpy(&e, p + kHeaderSize + i * kEntrySize, sizeof e);
    DiscoveryEntry d;
    d.trtype = e.trtype;
    d.adrfam = e.adrfam;
    d.subtype = e.subtype;
    d.treq = e.treq;
    d.portid = e.portid;
    d.cntlid = e.cntlid;
    d.asqsz = e.asqsz;
    d.eflags = e.eflags;
    d.trsvcid = field_string(e.trsvcid, sizeof e.trsvcid);
    d.subnqn = field_string(e.subnqn, sizeof e.subnqn);
    d.traddr = field_string(e.traddr, sizeof e.traddr);
    d.sectype = e.tsas.tcp.sectype;
    out->entries.push_back(std::move(d));
  }
  return true;
}

Error read_discovery_log(Controller& ctrl, DiscoveryLog* out, int attempts) {
  std::uint8_t header[kHeaderSize];
  for (int attempt = 0; attempt < attempts; ++attempt) {
    nvme::Status s = ctrl.get_log_page(NVME_LOG_LID_DISCOVER, 0, header, kHeaderSize, 0, true);
    if (!s.ok()) return step_failed("Get Log Page 70h (header)", s);
    Header first = read_header(header);
    if (first.numrec > kMaxRecords)
      return Error{kHostPathError, "discovery log reports " + std::to_string(first.numrec) + " records"};
    const std::size_t total = kHeaderSize + first.numrec * kEntrySize;
    auto log = std::make_unique<std::uint8_t[]>(total);
    s = ctrl.get_log_page(NVME_LOG_LID_DISCOVER, 0, log.get(), static_cast<std::uint32_t>(total), 0, true);
    if (!s.ok()) return step_failed("Get Log Page 70h", s);
    Header whole = read_header(log.get());
    if (whole.genctr != first.genctr || whole.numrec != first.numrec) continue;
    if (total > ctrl.max_transfer_size()) {
      // Read in several commands: the log may have changed between them; the header tells.
      s = ctrl.get_log_page(NVME_LOG_LID_DISCOVER, 0, header, kHeaderSize, 0, true);
      if (!s.ok()) return step_failed("Get Log Page 70h (header re-check)", s);
      if (read_header(header).genctr != first.genctr) continue;
    }
    std::string why;
    if (!parse_discovery_log(log.get(), total, out, &why)) return Error{kHostPathError, why};
    return {};
  }
  return Error{kHostPathError, "discovery log kept changing (GENCTR) over " + std::to_string(attempts) + " reads"};
}

Error discover(ControllerOptions options, DiscoveryLog* out) {
  if (options.subnqn.empty()) options.subnqn = nvme::kDiscoveryNqn;
  options.nr_io_queues = 0;
  Error error;
  auto ctrl = Controller::connect(options, &error);
  if (!ctrl) return error;
  Error e = read_discovery_log(*ctrl, out);
  Error s = ctrl->shutdown();
  return e ? e : s;
}

std::string trtype_string(std::uint8_t v) { return or_unknown(nvmf_trtype_str(v), v); }
std::string adrfam_string(std::uint8_t v) { return or_unknown(nvmf_adrfam_str(v), v); }
std::string subtype_string(std::uint8_t v) { return or_unknown(nvmf_subtype_str(v), v); }
std::string treq_string(std::uint8_t v) {
  // libnvme names single values; a secure channel requirement (TLS ports) beside the SQ flow control bit is
  // printed as both. nvmet sets that bit on every port, so a TLS port of nvmet shows TREQ 05h; libnvme's own
  // name for the bit alone (04h) starts with "not specified", which would contradict "required".
  if ((v & 3) && (v & NVMF_TREQ_DISABLE_SQFLOW))
    return or_unknown(nvmf_treq_str(v & 3), v & 3) + ", sq flow control disable supported";
  return or_unknown(nvmf_treq_str(v), v);
}
std::string eflags_string(std::uint16_t v) { return or_unknown(nvmf_eflags_str(v), v); }
std::string sectype_string(std::uint8_t v) { return or_unknown(nvmf_sectype_str(v), v); }

}  // namespace nvmf::initiator
