#include "bench/ceiling/message_sender.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <utility>

namespace nvmf::bench {

MessageSender::MessageSender(std::size_t max_messages_per_batch) : capacity_(max_messages_per_batch) {
  for (Batch* b : {&flight_, &filling_}) {
    // Reserved once: iovecs point into `headers`, which must never move.
    b->headers.reserve(capacity_);
    b->iov.reserve(2 * capacity_);
  }
}

void MessageSender::add(const MessageHeader& header, const void* payload) {
  filling_.headers.push_back(header);
  filling_.iov.push_back({&filling_.headers.back(), sizeof header});
  if (header.length > sizeof header)
    filling_.iov.push_back({const_cast<void*>(payload), header.length - sizeof header});
}

void MessageSender::prep(io_uring_sqe* sqe, int fd) {
  if (flight_done()) {
    std::swap(flight_, filling_);
    filling_.clear();
  }
  std::size_t count = std::min<std::size_t>(flight_.iov.size() - flight_.next_iov, IOV_MAX);
  msg_ = {};
  msg_.msg_iov = flight_.iov.data() + flight_.next_iov;
  msg_.msg_iovlen = count;
  // MSG_WAITALL: io_uring retries a short stream send itself (5.19+) instead of completing early.
  io_uring_prep_sendmsg(sqe, fd, &msg_, MSG_NOSIGNAL | MSG_WAITALL);
}

void MessageSender::complete(std::size_t bytes) {
  while (bytes > 0 && flight_.next_iov < flight_.iov.size()) {
    iovec& v = flight_.iov[flight_.next_iov];
    std::size_t take = std::min(bytes, v.iov_len);
    v.iov_base = static_cast<char*>(v.iov_base) + take;
    v.iov_len -= take;
    bytes -= take;
    if (v.iov_len == 0) ++flight_.next_iov;
  }
}

}  // namespace nvmf::bench
