// The libfabric objects of one queue, either role: its own domain (a queue lives on one reactor thread, so
// FI_THREAD_DOMAIN needs no locks), a completion queue and an event queue with fd wait objects, and the FI_EP_MSG
// endpoint bound to both. Closing is in reverse order; the endpoint can be closed early (close_endpoint()) so no
// operation touches the queue's buffers any more while they are being released.
#pragma once
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fabric/ofi/ofi_info.hpp"

namespace nvmf::fabric::ofi {

struct EndpointSizes {
  std::size_t send_operations = 0;  ///< Sends, reads and writes outstanding at once
  std::size_t receives = 0;         ///< Receives posted at once
};

class Endpoint {
 public:
  /// Open domain, CQ, EQ and endpoint for `info` (from fi_getinfo on the host, from the CONNREQ event on the
  /// controller) and enable the endpoint. nullptr and *error on failure.
  static std::unique_ptr<Endpoint> open(std::shared_ptr<Fabric> fabric, fi_info& info, const EndpointSizes& sizes,
                                        std::string* error);
  /// The same in two steps, for the controller: the domain, CQ and EQ first (memory can then be registered), the
  /// endpoint last. With the tcp provider the endpoint takes over the CONNREQ's socket, after which fi_reject can
  /// no longer send the reject record: everything that may fail goes before open_endpoint().
  static std::unique_ptr<Endpoint> open_domain(std::shared_ptr<Fabric> fabric, fi_info& info,
                                               const EndpointSizes& sizes, std::string* error);
  bool open_endpoint(fi_info& info, std::string* error);
  ~Endpoint();
  void close_endpoint();  ///< Idempotent; no completion or transfer after it

  fid_fabric* fabric() const { return fabric_->get(); }
  fid_domain* domain() const { return domain_; }
  fid_cq* cq() const { return cq_; }
  fid_eq* eq() const { return eq_; }
  fid_ep* ep() const { return ep_; }
  int mr_mode() const { return mr_mode_; }
  /// The provider keeps a send behind an earlier RMA write (FI_ORDER_SAW): a response may follow its data at once.
  bool send_after_write_ordered() const { return send_after_write_; }
  std::size_t cm_data_size() const { return cm_data_size_; }
  /// fi_inject takes messages up to this size: copied at once, no completion to read (tx_attr->inject_size).
  bool can_inject(std::size_t length) const { return length <= inject_size_; }
  std::uint32_t* next_key() { return &next_key_; }

 private:
  std::shared_ptr<Fabric> fabric_;
  fid_domain* domain_ = nullptr;
  fid_cq* cq_ = nullptr;
  fid_eq* eq_ = nullptr;
  fid_ep* ep_ = nullptr;
  int mr_mode_ = 0;
  bool send_after_write_ = false;
  std::size_t cm_data_size_ = 0;
  std::size_t inject_size_ = 0;
  std::uint32_t next_key_ = 1;
};

/// Connection-management event read from an EQ: the event type and the private data that came with it.
struct CmEvent {
  std::uint32_t event = 0;
  fi_info* info = nullptr;  ///< FI_CONNREQ only: the caller owns it (fi_freeinfo)
  std::uint8_t data[256];
  std::size_t data_length = 0;
  int error = 0;            ///< Set (positive errno) when the EQ reported an error entry; data is its err_data
};

/// Non-blocking read of one event. 1: *out filled; 0: nothing; -1: the EQ failed (*out.error set).
int read_cm_event(fid_eq* eq, CmEvent* out);

}  // namespace nvmf::fabric::ofi
