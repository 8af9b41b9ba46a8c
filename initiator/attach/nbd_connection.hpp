// One NBD connection served on one reactor: the kernel's nbd driver writes requests (28-byte header, then a
// write's data) into our end of a socket pair and reads replies (16-byte header, then a read's data). Each request
// goes to the initiator I/O queue on the same reactor, as ublk's do. One receive and one send are in flight at a
// time (a stream: replies must not interleave); request slots and their buffers are made at start, and when every
// slot is busy the connection stops reading, which holds the kernel back.
#pragma once
#include <linux/nbd.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fabric/io_op.hpp"
#include "initiator/io_queue.hpp"
#include "initiator/namespace.hpp"

namespace nvmf::initiator::nbd {

class NbdConnection {
 public:
  /// `slots` requests at a time, each up to `buffer_bytes` of data. `io` lives on the calling thread's reactor.
  NbdConnection(IoQueue& io, const Namespace& ns, int socket_fd, std::uint16_t slots, std::uint32_t buffer_bytes);
  ~NbdConnection();
  NbdConnection(const NbdConnection&) = delete;
  NbdConnection& operator=(const NbdConnection&) = delete;

  bool start(std::string* error);
  void poll(std::chrono::milliseconds max_wait);
  /// The kernel closed its end or sent NBD_CMD_DISC, and every reply has gone out.
  bool finished() const { return closed_ && busy_ == 0; }
  /// Before the I/O queue is destroyed: no more replies, and the socket is shut so pending receives end.
  void close();

 private:
  struct Slot {
    NbdConnection* owner = nullptr;
    char* buffer = nullptr;
    std::uint32_t type = 0;  ///< NBD_CMD_* with flags
    std::uint64_t from = 0;
    std::uint32_t len = 0;
    char handle[8] = {};
    nvme_dsm_range range{};
    nbd_reply reply{};
    bool send_data = false;
  };

  static void on_recv(fabric::IoOp& op, std::int32_t res, std::uint32_t flags);
  static void on_send(fabric::IoOp& op, std::int32_t res, std::uint32_t flags);
  static void on_io_done(void* arg, nvme::Status status);
  void receive_next();
  void post_recv(char* into, std::uint32_t len);
  void on_header();
  void dispatch(Slot& s);
  void reply(Slot& s, std::uint32_t error);
  void send_next();

  IoQueue& io_;
  Namespace ns_;
  int fd_;
  std::uint32_t buffer_bytes_;
  void* memory_ = nullptr;
  std::size_t memory_bytes_ = 0;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
  // Receive: the header, then a write's data into its slot.
  fabric::IoOp recv_op_;
  nbd_request header_{};
  std::uint32_t recv_got_ = 0, recv_want_ = 0;
  char* recv_into_ = nullptr;
  Slot* receiving_ = nullptr;  ///< A write whose data is being read
  bool recv_posted_ = false;
  bool waiting_for_slot_ = false;
  // Send: a ring of replies ready to go, one sendmsg at a time.
  fabric::IoOp send_op_;
  std::vector<Slot*> send_ring_;
  std::size_t send_head_ = 0, send_count_ = 0;
  iovec send_iov_[2]{};
  msghdr send_msg_{};
  std::uint64_t send_left_ = 0;
  bool send_posted_ = false;
  std::uint32_t busy_ = 0;  ///< Slots taken (being served or replied)
  std::vector<Slot*> waiting_;  ///< Dispatch refused with queue_full
  bool closed_ = false;
  bool closing_ = false;
};

}  // namespace nvmf::initiator::nbd
