#include "initiator/attach/ublk_queue.hpp"

#include <endian.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::initiator::ublk {

UblkQueue::UblkQueue(IoQueue& io, const Namespace& ns, const QueueConfig& config)
    : io_(io), ns_(ns), config_(config), tags_(config.depth) {
  waiting_.reserve(config.depth);
}

UblkQueue::~UblkQueue() {
  if (descriptors_) munmap(const_cast<IoDesc*>(descriptors_), descriptors_bytes_);
  if (buffers_) munmap(buffers_, buffers_bytes_);
}

bool UblkQueue::start(std::string* error) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  descriptors_bytes_ = (config_.depth * sizeof(IoDesc) + page - 1) / page * page;
  void* d = mmap(nullptr, descriptors_bytes_, PROT_READ, MAP_SHARED | MAP_POPULATE, config_.char_fd,
                 static_cast<off_t>(descriptor_offset(config_.q_id)));
  if (d == MAP_FAILED) {
    *error = "mapping queue " + std::to_string(config_.q_id) + "'s descriptors: " + std::strerror(errno);
    return false;
  }
  descriptors_ = static_cast<const IoDesc*>(d);
  // Anonymous memory: pages are only backed once a request of that size has used them.
  buffers_bytes_ = std::size_t(config_.depth) * config_.buffer_bytes;
  void* b = mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) {
    *error = "allocating " + std::to_string(buffers_bytes_) + " bytes of request buffers: " + std::strerror(errno);
    return false;
  }
  buffers_ = b;
  std::string why;
  if (!io_.register_buffer(buffers_, buffers_bytes_, &why)) {
    *error = "registering the request buffers: " + why;
    return false;
  }
  for (std::uint16_t i = 0; i < config_.depth; ++i) {
    Tag& t = tags_[i];
    t.op.handler = &UblkQueue::on_command_done;
    t.queue = this;
    t.tag = i;
    t.buffer = static_cast<char*>(buffers_) + std::size_t(i) * config_.buffer_bytes;
    issue(t, kIoFetchReq, 0);
  }
  // START_DEV waits for every queue's fetches: hand them to the kernel now, not at the reactor's next turn.
  int rc = io_uring_submit(&io_.reactor().ring());
  if (rc < 0) {
    *error = std::string("submitting FETCH_REQ: ") + std::strerror(-rc);
    return false;
  }
  return true;
}

void UblkQueue::issue(Tag& t, std::uint32_t nr, std::int32_t result) {
  io_uring_sqe* sqe = io_.reactor().sqe(t.op);
  const std::uint64_t user_data = sqe->user_data;
  std::memset(sqe, 0, sizeof *sqe);
  sqe->user_data = user_data;
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = config_.char_fd;
  sqe->cmd_op = config_.ioctl_encoded ? io_op(nr) : nr;
  IoCmd cmd{};
  cmd.q_id = config_.q_id;
  cmd.tag = t.tag;
  cmd.result = result;
  cmd.addr = reinterpret_cast<std::uintptr_t>(t.buffer);
  static_assert(sizeof(IoCmd) <= 16, "the I/O command must fit a 64-byte SQE's command area");
  std::memcpy(sqe->cmd, &cmd, sizeof cmd);
}

void UblkQueue::on_command_done(fabric::IoOp& op, std::int32_t res, std::uint32_t) {
  Tag& t = fabric::owner_of(&Tag::op, op);
  UblkQueue& q = *t.queue;
  if (res == kIoResOk) return q.handle_request(t);
  // ABORT: the device is stopping and this tag is not coming back. Any other error ends the tag the same way
  // (the driver refused the command: nothing more will arrive on it).
  if (res != kIoResAbort) NVMF_LOG(warn, "ublk queue %u tag %u: %s", q.config_.q_id, t.tag, std::strerror(-res));
  t.finished = true;
  ++q.finished_tags_;
}

void UblkQueue::handle_request(Tag& t) {
  t.request = map_request(descriptors_[t.tag], ns_.block_size);
  ++in_service_;
  if (!submit(t)) waiting_.push_back(&t);
}

bool UblkQueue::submit(Tag& t) {
  const BlockRequest& r = t.request;
  SubmitResult s = SubmitResult::invalid_argument;
  switch (r.kind) {
    case BlockRequest::Kind::read:
      s = io_.read(ns_, r.slba, r.nlb, t.buffer, &UblkQueue::on_io_done, &t);
      break;
    case BlockRequest::Kind::write:
      s = io_.write(ns_, r.slba, r.nlb, t.buffer, &UblkQueue::on_io_done, &t, r.fua);
      break;
    case BlockRequest::Kind::flush:
      s = io_.flush(ns_, &UblkQueue::on_io_done, &t);
      break;
    case BlockRequest::Kind::discard:
      t.range.cattr = 0;
      t.range.nlb = htole32(r.nlb);
      t.range.slba = htole64(r.slba);
      s = io_.deallocate(ns_, &t.range, 1, &UblkQueue::on_io_done, &t);
      break;
    case BlockRequest::Kind::write_zeroes:
      s = io_.write_zeroes(ns_, r.slba, r.nlb, &UblkQueue::on_io_done, &t);
      break;
    case BlockRequest::Kind::invalid:
      break;
  }
  switch (s) {
    case SubmitResult::ok:
      return true;
    case SubmitResult::queue_full:
      return false;
    case SubmitResult::invalid_argument:
      commit(t, -EINVAL);
      return true;
    case SubmitResult::disconnected:
      commit(t, -EIO);
      return true;
  }
  return true;
}

void UblkQueue::on_io_done(void* arg, nvme::Status status) {
  Tag& t = *static_cast<Tag*>(arg);
  t.queue->commit(t, commit_result(t.request, status));
}

void UblkQueue::commit(Tag& t, std::int32_t result) {
  --in_service_;
  if (closing_) return;
  issue(t, kIoCommitAndFetchReq, result);
}

void UblkQueue::poll(std::chrono::milliseconds max_wait) {
  io_.process_completions(waiting_.empty() ? max_wait : std::chrono::milliseconds(0));
  if (waiting_.empty()) return;
  std::size_t done = 0;
  while (done < waiting_.size() && submit(*waiting_[done])) ++done;
  waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(done));
}

}  // namespace nvmf::initiator::ublk
