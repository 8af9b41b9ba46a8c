#include "fabric/rdma/cm_private_data.hpp"

#include <algorithm>
#include <cstring>

namespace nvmf::fabric::rdma {

using nvme::rdma::CmAccept;
using nvme::rdma::CmReject;
using nvme::rdma::CmRejectStatus;
using nvme::rdma::CmRequest;

namespace {
constexpr std::uint16_t kRecfmt = 0;  // NVMe/RDMA record format 1.0
constexpr std::uint16_t kReservedQid = 0xFFFF;

CmValidation rejected(CmRejectStatus status, std::string reason) {
  CmValidation v;
  v.reject = status;
  v.reason = std::move(reason);
  return v;
}
}  // namespace

const char* reject_status_name(CmRejectStatus status) {
  switch (status) {
    case CmRejectStatus::invalid_private_data_length: return "invalid private data length";
    case CmRejectStatus::invalid_recfmt: return "invalid RECFMT";
    case CmRejectStatus::invalid_qid: return "invalid QID";
    case CmRejectStatus::invalid_hsqsize: return "invalid HSQSIZE";
    case CmRejectStatus::invalid_hrqsize: return "invalid HRQSIZE";
    case CmRejectStatus::no_resources: return "no resources";
    case CmRejectStatus::invalid_ird: return "invalid IRD";
    case CmRejectStatus::invalid_ord: return "invalid ORD";
  }
  return "unknown status";
}

CmValidation validate_connect_request(const void* data, std::size_t data_length, std::uint8_t host_ird,
                                      const CmLimits& limits) {
  if (!data || data_length < sizeof(CmRequest))
    return rejected(CmRejectStatus::invalid_private_data_length,
                    "private data length " + std::to_string(data_length) + " < " + std::to_string(sizeof(CmRequest)));
  CmRequest req;
  std::memcpy(&req, data, sizeof req);
  if (req.recfmt != kRecfmt)
    return rejected(CmRejectStatus::invalid_recfmt, "RECFMT " + std::to_string(req.recfmt) + " != 0");
  if (req.qid == kReservedQid) return rejected(CmRejectStatus::invalid_qid, "QID FFFFh is reserved");
  // HSQSIZE is 0's based and a queue needs at least two entries (NVMe base spec: SQSIZE >= 1).
  const unsigned depth = unsigned(req.hsqsize) + 1;
  if (req.hsqsize < 1 || depth > limits.max_queue_depth)
    return rejected(CmRejectStatus::invalid_hsqsize, "HSQSIZE " + std::to_string(req.hsqsize) + " (depth " +
                                                         std::to_string(depth) + ") outside 1.." +
                                                         std::to_string(limits.max_queue_depth - 1));
  // Every outstanding command gets a response: a host receive queue smaller than its send queue would leave
  // responses without a buffer (RNR retries forever with rnr_retry_count 7).
  if (req.hrqsize < depth)
    return rejected(CmRejectStatus::invalid_hrqsize,
                    "HRQSIZE " + std::to_string(req.hrqsize) + " < HSQSIZE + 1 (" + std::to_string(depth) + ")");
  // Data the host writes beyond the in-capsule size is fetched with RDMA READ; a host serving none cannot write.
  if (host_ird == 0) return rejected(CmRejectStatus::invalid_ird, "host IRD 0: no RDMA READ possible");

  CmValidation v;
  v.params.qid = req.qid;
  v.params.host_recv_queue_size = req.hrqsize;
  v.params.queue_depth = static_cast<std::uint16_t>(depth);
  v.params.cntlid = req.cntlid;
  v.params.read_depth = std::max<std::uint8_t>(1, std::min(host_ird, limits.device_max_read_depth));
  return v;
}

CmRequest make_connect_request(std::uint16_t qid, std::uint16_t depth, std::uint16_t cntlid) {
  CmRequest req{};
  req.recfmt = kRecfmt;
  req.qid = qid;
  req.hrqsize = depth;
  req.hsqsize = static_cast<std::uint16_t>(depth - 1);
  req.cntlid = cntlid;
  return req;
}

CmAccept make_accept(std::uint16_t crqsize) {
  CmAccept a{};
  a.recfmt = kRecfmt;
  a.crqsize = crqsize;
  return a;
}

CmReject make_reject(CmRejectStatus status) {
  CmReject r{};
  r.recfmt = kRecfmt;
  r.sts = static_cast<std::uint16_t>(status);
  return r;
}

std::optional<std::uint16_t> parse_accept(const void* data, std::size_t data_length) {
  // The kernel target sends the 32-byte record; the CM may pad it, never shorten it.
  if (!data || data_length < 4) return std::nullopt;
  CmAccept a{};
  std::memcpy(&a, data, std::min(data_length, sizeof a));
  if (a.recfmt != kRecfmt) return std::nullopt;
  return a.crqsize;
}

std::string describe_reject(const void* data, std::size_t data_length) {
  if (!data || data_length < sizeof(CmReject)) return "rejected without NVMe/RDMA private data";
  CmReject r;
  std::memcpy(&r, data, sizeof r);
  if (r.recfmt != kRecfmt) return "rejected, private data with RECFMT " + std::to_string(r.recfmt);
  if (r.sts < 1 || r.sts > 8) return "rejected with status " + std::to_string(r.sts);
  return std::string("rejected: ") + reject_status_name(static_cast<CmRejectStatus>(r.sts)) + " (" +
         std::to_string(r.sts) + ")";
}

}  // namespace nvmf::fabric::rdma
