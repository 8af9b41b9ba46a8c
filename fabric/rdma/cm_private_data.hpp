// NVMe/RDMA connection establishment (NVMe/RDMA transport spec 3.3): the rdma_cm private data of a connect
// request, accept and reject. Pure functions: the listener and the host queue call them, the unit tests drive
// every branch without an RDMA device.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "nvme/rdma_cm.hpp"

namespace nvmf::fabric::rdma {

/// What a valid connect request asks for.
struct CmConnectParams {
  std::uint16_t qid = 0;
  std::uint16_t host_recv_queue_size = 0;  ///< HRQSIZE: responses the host can take at once
  std::uint16_t queue_depth = 0;           ///< HSQSIZE + 1: commands the host may have outstanding
  std::uint16_t cntlid = 0;
  std::uint8_t read_depth = 0;             ///< RDMA READs we may have outstanding (the host's IRD, clamped)
};

/// The controller's side of the negotiation.
struct CmLimits {
  std::uint16_t max_queue_depth = 128;     ///< Largest HSQSIZE + 1 accepted
  std::uint8_t device_max_read_depth = 16; ///< ibv_device_attr.max_qp_init_rd_atom of the local device
};

struct CmValidation {
  std::optional<nvme::rdma::CmRejectStatus> reject;  ///< Set when the request must be rejected
  CmConnectParams params;                            ///< Valid when !reject
  std::string reason;                                ///< Field, value and limit of a rejection, for the log
};

/// Check a connect request's private data. `data_length` is what rdma_cm delivered: the IB CM pads a REQ's
/// private data (56 bytes for RDMA_PS_TCP), so only a short record is an error. `host_ird` is the host's
/// responder resources as the passive side sees them (rdma_conn_param.initiator_depth of the request event).
CmValidation validate_connect_request(const void* data, std::size_t data_length, std::uint8_t host_ird,
                                      const CmLimits& limits);

/// Host side: the request for queue `qid` with `depth` commands outstanding at most and a receive queue of
/// `depth` entries (the Linux host asks HRQSIZE = queue size, HSQSIZE = queue size - 1).
nvme::rdma::CmRequest make_connect_request(std::uint16_t qid, std::uint16_t depth, std::uint16_t cntlid);
nvme::rdma::CmAccept make_accept(std::uint16_t crqsize);
nvme::rdma::CmReject make_reject(nvme::rdma::CmRejectStatus status);

/// Host side: the controller's receive queue size from an accept, or nullopt when the record is short or has a
/// record format other than 0.
std::optional<std::uint16_t> parse_accept(const void* data, std::size_t data_length);
/// Host side: "invalid HSQSIZE (4)" from a reject's private data; a generic text when absent or malformed
/// (a reject may also come from the CM itself, e.g. no listener on the port).
std::string describe_reject(const void* data, std::size_t data_length);
const char* reject_status_name(nvme::rdma::CmRejectStatus status);

}  // namespace nvmf::fabric::rdma
