// NVMe/RDMA connection private data carried in rdma_cm requests, accepts and rejects (NVMe/RDMA transport spec).
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme/endian.hpp"

namespace nvmf::nvme::rdma {

struct CmRequest {
  le16 recfmt;   ///< Record format, 0
  le16 qid;      ///< Queue identifier
  le16 hrqsize;  ///< Host receive queue size
  le16 hsqsize;  ///< Host send queue size, 0's based
  le16 cntlid;   ///< Controller ID (FFFFh for the admin queue)
  std::uint8_t rsvd10[22];
};
static_assert(sizeof(CmRequest) == 32);
static_assert(offsetof(CmRequest, recfmt) == 0);
static_assert(offsetof(CmRequest, qid) == 2);
static_assert(offsetof(CmRequest, hrqsize) == 4);
static_assert(offsetof(CmRequest, hsqsize) == 6);
static_assert(offsetof(CmRequest, cntlid) == 8);

struct CmAccept {
  le16 recfmt;
  le16 crqsize;  ///< Controller receive queue size
  std::uint8_t rsvd4[28];
};
static_assert(sizeof(CmAccept) == 32);
static_assert(offsetof(CmAccept, recfmt) == 0);
static_assert(offsetof(CmAccept, crqsize) == 2);

enum class CmRejectStatus : std::uint16_t {
  invalid_private_data_length = 1,
  invalid_recfmt = 2,
  invalid_qid = 3,
  invalid_hsqsize = 4,
  invalid_hrqsize = 5,
  no_resources = 6,
  invalid_ird = 7,
  invalid_ord = 8,
};

struct CmReject {
  le16 recfmt;
  le16 sts;  ///< CmRejectStatus
};
static_assert(sizeof(CmReject) == 4);
static_assert(offsetof(CmReject, recfmt) == 0);
static_assert(offsetof(CmReject, sts) == 2);

}  // namespace nvmf::nvme::rdma
