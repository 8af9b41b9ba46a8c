// The transport seam, controller role. A transport (tcp/, later rdma/ and libfabric) turns a connection into a
// ControllerQueue that delivers command capsules upward and carries three kinds of work downward: fetch this
// command's data from the host, send this data to the host, send this completion. The controller logic above
// (target/) implements QueueHandler and never learns which transport carries it: the same split as the kernel's
// nvmet_fabrics_ops and SPDK's spdk_nvmf_transport_ops.
//
// Life cycle of a request (all on the queue's reactor):
//   1. The transport receives a capsule, takes a ControllerRequest from the queue's pool, parses the SGL:
//      direction (from the opcode's, or for fabrics commands the fctype's, bits 1:0), length, and whether the
//      data came in-capsule. When length > 0 it attaches a buffer of at least `length` bytes (req.data).
//      A malformed SGL is answered by the transport itself with the matching status; the handler never sees it.
//   2. handler.on_command(req). For host-to-controller data that came in-capsule, req.data_ready is true.
//   3. For host-to-controller data not yet here, the handler calls queue.fetch_data(req) when it has validated
//      the command; the transport pulls the data (TCP: R2T/H2CData; RDMA: RDMA READ) into req.data and calls
//      handler.on_data_fetched(req) with req.data_ready true, or with req.cqe status set to the transfer error.
//   4. The handler fills req.cqe (dw0, dw1, status) and, for controller-to-host data, req.data with
//      req.data_length bytes (it may lower data_length, never raise it), then calls queue.complete(req).
//      The transport sends the data (when status is success) and the response capsule (or, over TCP, folds the
//      response into the last C2HData's SUCCESS flag when the host disabled SQ flow control), then recycles
//      the request and its buffer. The transport fills cqe.cid, cqe.sqid and cqe.sqhd itself.
//   A handler must call complete() exactly once per request it received, even after on_queue_closed(); the
//   queue frees itself (and its handler) once the connection is gone and every request has been completed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nvme/cqe.hpp"
#include "nvme/sqe.hpp"
#include "nvme/status.hpp"

namespace nvmf::fabric {

class Reactor;
class ControllerQueue;

enum class DataDirection : std::uint8_t { none, host_to_controller, controller_to_host };

/// Transport types as the discovery log names them (libnvme's NVMF_TRTYPE_* values). `ofi` (NVMe/RDMA capsules
/// over libfabric, fabric/ofi/) has no NVMe transport type: its value is reserved in the spec, never sent, and the
/// discovery log leaves ofi listeners out.
enum class TransportType : std::uint8_t { rdma = 1, tcp = 3, ofi = 0xFF };

/// Whether the transport's hosts describe data with Keyed SGL Data Block descriptors (memory the controller reads
/// and writes remotely), which Identify Controller SGLS bit 2 advertises (NVMe base spec 5.17.2.1; nvmet sets it
/// on RDMA ports only).
constexpr bool uses_keyed_sgls(TransportType type) {
  return type == TransportType::rdma || type == TransportType::ofi;
}

struct ControllerRequest {
  nvme::Sqe sqe{};
  nvme::Cqe cqe{};
  DataDirection direction = DataDirection::none;
  bool data_ready = false;      ///< host-to-controller data is in `data`
  std::uint32_t data_length = 0;  ///< Bytes described by the SGL (controller-to-host: bytes to send)
  std::byte* data = nullptr;      ///< Buffer of >= data_length bytes, owned by the transport
  std::uint16_t slot = 0;         ///< Index in the queue's request pool, < ControllerQueue::max_depth()
  ControllerQueue* queue = nullptr;
  /// Controller-to-host data the handler lends instead of filling `data` (only where the queue
  /// sends_lent_data()): sent straight from this memory, which `lender` keeps alive until the transport has
  /// recycled the request (its send may still be in the kernel after complete()). Both reset on recycling.
  const std::byte* lent_data = nullptr;
  std::shared_ptr<const void> lender;
  /// `data` (in-capsule host-to-controller data) lies in the transport's receive buffer, where it arrived, and
  /// stays valid only until on_command() returns: the handler either is done with it by then (a write that a
  /// RAM or null namespace copies inline) or first calls ControllerQueue::keep_data(). Saves one copy per
  /// in-capsule write. Reset on recycling.
  bool data_borrowed = false;

  void set_status(nvme::Status s) { cqe.set_status(s); }
  nvme::Status status() const { return cqe.get_status(); }
  /// Ready for the next command, field by field rather than by assigning a new request (a copy of all of it
  /// on every I/O). `sqe` is left: the transport overwrites it whole when the next capsule arrives; `slot` and
  /// `queue` belong to the pool.
  void reset_for_next_command() {
    cqe = {};
    direction = DataDirection::none;
    data_ready = false;
    data_length = 0;
    data = nullptr;
    lent_data = nullptr;
    lender.reset();
    data_borrowed = false;
  }
};
// A new field must be reset above too.
static_assert(sizeof(ControllerRequest) == 144, "ControllerRequest::reset_for_next_command() resets every field");

/// What the controller learned from a successful Connect, handed back to the transport.
struct QueueParams {
  std::uint16_t qid = 0;
  std::uint16_t depth = 0;            ///< SQSIZE + 1
  bool sq_flow_control_disabled = false;  ///< Connect CATTR bit 2: SQHD not needed, C2H SUCCESS allowed
};

class QueueHandler {
 public:
  virtual ~QueueHandler() = default;
  virtual void on_command(ControllerRequest& req) = 0;
  virtual void on_data_fetched(ControllerRequest& req) = 0;
  /// The connection is gone (peer closed, protocol error, close() called). Called once. Requests still held
  /// by the handler must still be completed; their data and responses are discarded.
  virtual void on_queue_closed() = 0;
};

class ControllerQueue {
 public:
  virtual ~ControllerQueue() = default;

  virtual void fetch_data(ControllerRequest& req) = 0;
  virtual void complete(ControllerRequest& req) = 0;
  /// Abort support (NVMe base spec, Abort command): withdraw a request given to fetch_data() before any of its
  /// data was asked for on the wire (TCP: no R2T sent yet, so the host never learnt a TTAG to send data to).
  /// On true the request is back with the handler as if fetch_data() had not been called, on_data_fetched()
  /// will not come, and the handler completes it (Command Abort Requested). On false nothing changed: the
  /// transfer goes on. A transport that cannot tell refuses; refusing is always correct.
  virtual bool cancel(ControllerRequest& req) {
    (void)req;
    return false;
  }
  /// Whether complete() sends a request's lent_data (holding its lender until the send is done). Transports
  /// that may only send registered memory (RDMA) say no, and the handler copies into `data` as before.
  virtual bool sends_lent_data() const { return false; }
  /// Inside on_command(): gives a request whose data_borrowed is set a buffer of its own with the same bytes
  /// (data_borrowed becomes false). Transports that never lend their receive buffer never set data_borrowed,
  /// so for them there is nothing to do.
  virtual void keep_data(ControllerRequest& req) { (void)req; }
  /// Called by the handler after its Connect succeeded.
  virtual void set_params(const QueueParams& params) = 0;
  /// Tear the connection down (Disconnect, controller teardown, keep-alive expiry). Idempotent.
  virtual void close() = 0;

  virtual Reactor& reactor() = 0;
  virtual TransportType transport_type() const = 0;
  virtual std::string peer_address() const = 0;  ///< "127.0.0.1:51234" or "[::1]:51234", for logs
  /// Host NQN of the TLS PSK identity this connection was authenticated with; empty without TLS.
  virtual std::string secure_channel_host() const { return {}; }
  /// The largest number of requests the pool holds (the largest SQSIZE + 1 the transport accepts).
  virtual std::uint16_t max_depth() const = 0;
};

/// Creates the controller-side logic for each new connection. Called on the connection's reactor.
class QueueHandlerFactory {
 public:
  virtual ~QueueHandlerFactory() = default;
  virtual std::unique_ptr<QueueHandler> make_handler(ControllerQueue& queue) = 0;
};

/// Where a listener listens, in the discovery log's terms.
/// NVMe/TCP secure channel on a port (nvmet's addr_treq/addr_tsas): TLS not offered, allowed beside plain
/// connections, or required.
enum class TlsPolicy : std::uint8_t { none, allowed, required };

struct ListenAddress {
  TransportType trtype = TransportType::tcp;
  bool ipv6 = false;     ///< ADRFAM 2h (IPv6) instead of 1h (IPv4)
  std::string traddr;    ///< "127.0.0.1", "::1"
  std::string trsvcid;   ///< "4420"
  TlsPolicy tls = TlsPolicy::none;  ///< NVMe/TCP only
  std::string provider{};  ///< ofi only: the libfabric provider ("tcp", "verbs")
  std::string to_string() const;  ///< "tcp:127.0.0.1:4420", "tcp:[::1]:4420", "ofi:tcp:127.0.0.1:4420"
};

/// Limits a controller-side transport enforces and advertises (ICResp, Identify IOCCSZ/MDTS).
struct TransportLimits {
  std::uint32_t max_io_size = 128 * 1024;        ///< Largest data transfer (MDTS) and MAXH2CDATA
  std::uint32_t in_capsule_data_size = 8192;     ///< I/O queue in-capsule data (IOCCSZ * 16 - 64)
  std::uint32_t admin_in_capsule_data_size = 8192;  ///< Admin and fabrics commands: fixed by the spec
  std::uint16_t max_queue_depth = 128;           ///< Largest SQSIZE + 1 (MQES + 1)
  /// NVMe/TCP: commands of one connection that may receive host data through R2Ts at once; later ones wait, in
  /// arrival order, before their first R2T (where an Abort can still withdraw them). 0: no limit, every command
  /// gets its R2Ts at once, as the Linux target does (MAXR2T itself is per command, NVMe/TCP 3.6.2.2).
  std::uint16_t max_r2t_commands = 0;
  /// NVMe/TCP: a connection whose sent bytes stay unacknowledged this long (a peer that stopped reading: zero
  /// window, or one gone without a FIN) is reset by the kernel (TCP_USER_TIMEOUT, RFC 5482), and its queue ends
  /// like any broken connection. Bounds what a silent peer holds. 0: the kernel's own retransmission limits.
  std::uint32_t send_timeout_ms = 30000;
};

class Listener {
 public:
  virtual ~Listener() = default;
  virtual const ListenAddress& address() const = 0;
  /// Stop accepting; existing connections stay. Idempotent.
  virtual void stop() = 0;
};

}  // namespace nvmf::fabric
