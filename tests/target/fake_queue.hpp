// A ControllerQueue for unit tests: no transport, just a record of what the controller logic asked for
// (completions with their data, fetches, queue parameters, close) and a driver that plays the host side:
// it submits commands through the QueueHandler seam, serves data fetches and runs the reactor until the
// command completes.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/transport.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::test {

struct Completion {
  nvme::Cqe cqe{};
  std::vector<std::byte> data;  ///< Controller-to-host data (data_length bytes) when successful
  nvme::Status status() const { return cqe.get_status(); }
};

class FakeQueue final : public fabric::ControllerQueue {
 public:
  static constexpr std::uint32_t kBufferSize = 1 << 20;

  FakeQueue(fabric::Reactor& reactor, fabric::QueueHandlerFactory& factory, std::uint16_t depth = 128,
            std::string peer = "127.0.0.1:40000")
      : reactor_(reactor), depth_(depth), peer_(std::move(peer)), requests_(depth) {
    for (std::uint16_t i = 0; i < depth; ++i) {
      requests_[i].slot = i;
      requests_[i].queue = this;
      free_.push_back(i);
    }
    handler_ = factory.make_handler(*this);
  }
  ~FakeQueue() override {
    close();  // a transport always reports the end of the connection before freeing the queue
    handler_.reset();
    for (auto* b : buffers_) std::free(b);
  }

  // --- ControllerQueue
  void fetch_data(fabric::ControllerRequest& req) override { fetches_.push_back(&req); }
  void complete(fabric::ControllerRequest& req) override {
    Completion c;
    c.cqe = req.cqe;
    c.cqe.cid = req.sqe.cid;
    c.cqe.sqid = params_ ? params_->qid : 0;
    // Lent data is what a transport that sends_lent_data() puts on the wire instead of `data`.
    const std::byte* sent = req.lent_data ? req.lent_data : req.data;
    if (req.direction == fabric::DataDirection::controller_to_host && req.cqe.get_status().ok() && sent)
      c.data.assign(sent, sent + req.data_length);
    if (req.lent_data) {
      ++lent_count_;
      last_lent_ = req.lent_data;
    }
    // A held send keeps the lender as a real transport does until the kernel is done with the memory.
    if (req.lender && hold_sends_) held_lenders_.push_back(std::move(req.lender));
    req.lender.reset();
    req.lent_data = nullptr;
    completions_.push_back(std::move(c));
    ++completed_count_;
    if (req.data && !req.data_borrowed) buffer_pool_.push_back(req.data);
    req.data = nullptr;
    req.data_borrowed = false;
    free_.push_back(req.slot);
  }
  /// A fetch not yet served has moved no data: withdrawn unless the test made the transport refuse.
  bool cancel(fabric::ControllerRequest& req) override {
    auto it = std::find(fetches_.begin(), fetches_.end(), &req);
    if (!cancellable_ || it == fetches_.end()) return false;
    fetches_.erase(it);
    return true;
  }
  void set_params(const fabric::QueueParams& params) override { params_ = params; }
  void close() override {
    close_calls_++;
    if (closed_) return;
    closed_ = true;
    handler_->on_queue_closed();
  }
  fabric::Reactor& reactor() override { return reactor_; }
  fabric::TransportType transport_type() const override { return fabric::TransportType::tcp; }
  std::string peer_address() const override { return peer_; }
  std::uint16_t max_depth() const override { return depth_; }
  bool sends_lent_data() const override { return lends_; }
  void keep_data(fabric::ControllerRequest& req) override {
    if (!req.data_borrowed) return;
    std::byte* own = take_buffer();
    std::memcpy(own, req.data, req.data_length);
    req.data = own;
    req.data_borrowed = false;
    ++kept_count_;
  }

  // --- host side
  /// Direction as a transport derives it: the data transfer bits of the opcode (fabrics: of the fctype).
  static fabric::DataDirection direction_of(const nvme::Sqe& sqe) {
    std::uint8_t bits = sqe.opcode == nvme::kFabricsOpcode ? sqe.bytes()[4] & 3 : sqe.opcode & 3;
    if (bits == 1) return fabric::DataDirection::host_to_controller;
    if (bits == 2) return fabric::DataDirection::controller_to_host;
    return fabric::DataDirection::none;
  }

  /// Hands a command to the handler. `host_data` (host-to-controller) arrives in-capsule when `in_capsule`,
  /// else on the handler's fetch_data; `length` is what the SGL describes.
  fabric::ControllerRequest& submit(const nvme::Sqe& sqe, std::uint32_t length = 0, const void* host_data = nullptr,
                                    bool in_capsule = true) {
    if (free_.empty()) throw std::runtime_error("fake queue: no free request slot");
    auto& req = requests_[free_.front()];
    free_.pop_front();
    req.sqe = sqe;
    req.cqe = nvme::Cqe{};
    req.direction = direction_of(sqe);
    req.data_length = length;
    req.data = length ? take_buffer() : nullptr;
    req.data_ready = false;
    const bool borrowed = borrows_ && in_capsule && length &&
                          req.direction == fabric::DataDirection::host_to_controller;
    if (req.direction == fabric::DataDirection::host_to_controller && length) {
      pending_host_data_[req.slot].assign(static_cast<const std::byte*>(host_data),
                                          static_cast<const std::byte*>(host_data) + length);
      if (in_capsule) {
        if (borrowed) {  // lent from the "receive buffer", as NVMe/TCP does on an I/O queue
          buffer_pool_.push_back(req.data);
          receive_buffer_.assign(length, std::byte{0});
          req.data = receive_buffer_.data();
          req.data_borrowed = true;
        }
        std::memcpy(req.data, host_data, length);
        req.data_ready = true;
      }
    }
    handler_->on_command(req);
    // The next recv overwrites the receive buffer: a handler that kept borrowed data without keep_data sees it.
    if (borrowed) std::fill(receive_buffer_.begin(), receive_buffer_.end(), std::byte{0xEE});
    if (auto_serve_) serve_fetches();
    return req;
  }

  /// Serve every pending fetch with the command's host data (or fail it with `transfer_error`).
  void serve_fetches(std::optional<nvme::Status> transfer_error = std::nullopt) {
    while (!fetches_.empty()) {
      auto* req = fetches_.front();
      fetches_.pop_front();
      ++fetch_count_;
      if (transfer_error) {
        req->set_status(*transfer_error);
      } else {
        auto& src = pending_host_data_[req->slot];
        std::memcpy(req->data, src.data(), std::min<std::size_t>(src.size(), req->data_length));
        req->data_ready = true;
      }
      handler_->on_data_fetched(*req);
    }
  }

  /// Run the reactor until `n` completions are available (posted tasks and io_uring completions included).
  bool wait_for(std::size_t n, int max_turns = 2000) {
    for (int i = 0; i < max_turns && completions_.size() < n; ++i) {
      reactor_.run_once(std::chrono::milliseconds(completions_.size() < n ? 5 : 0));
      if (auto_serve_) serve_fetches();
    }
    return completions_.size() >= n;
  }

  /// Submit and wait for this command's completion (the next one in order).
  Completion run(const nvme::Sqe& sqe, std::uint32_t length = 0, const void* host_data = nullptr,
                 bool in_capsule = true) {
    std::size_t before = completions_.size();
    submit(sqe, length, host_data, in_capsule);
    if (!wait_for(before + 1)) throw std::runtime_error("fake queue: command did not complete");
    Completion c = completions_[before];
    completions_.erase(completions_.begin() + static_cast<long>(before));
    return c;
  }

  /// Act as a transport that lends in-capsule data from its receive buffer (ControllerRequest::data_borrowed),
  /// which it overwrites right after on_command returns.
  void set_borrows_in_capsule_data(bool on) { borrows_ = on; }
  /// Borrowed requests the handler called keep_data() for.
  std::size_t kept_count() const { return kept_count_; }
  /// Act as a transport that sends lent data (set before the I/O queue's Connect, which asks once).
  void set_lends_data(bool on) { lends_ = on; }
  /// While true, the lenders of completed requests are kept, as by sends still in the kernel.
  void set_hold_sends(bool on) { hold_sends_ = on; }
  void release_held_sends() { held_lenders_.clear(); }
  std::size_t lent_count() const { return lent_count_; }
  const std::byte* last_lent() const { return last_lent_; }
  /// When false, fetches wait for an explicit serve_fetches() (to inject transfer errors).
  void set_auto_serve_fetches(bool on) { auto_serve_ = on; }
  /// When false, cancel() refuses, as a transport whose data transfer has already started.
  void set_cancellable(bool on) { cancellable_ = on; }
  std::deque<Completion>& completions() { return completions_; }
  std::size_t pending_fetches() const { return fetches_.size(); }
  std::size_t fetch_count() const { return fetch_count_; }
  std::size_t outstanding() const { return depth_ - free_.size(); }
  const std::optional<fabric::QueueParams>& params() const { return params_; }
  bool closed() const { return closed_; }
  int close_calls() const { return close_calls_; }
  fabric::QueueHandler& handler() { return *handler_; }

 private:
  std::byte* take_buffer() {
    if (!buffer_pool_.empty()) {
      auto* b = buffer_pool_.back();
      buffer_pool_.pop_back();
      return b;
    }
    auto* b = static_cast<std::byte*>(std::aligned_alloc(4096, kBufferSize));
    buffers_.push_back(b);
    return b;
  }

  fabric::Reactor& reactor_;
  std::uint16_t depth_;
  std::string peer_;
  std::vector<fabric::ControllerRequest> requests_;
  std::deque<std::uint16_t> free_;
  std::vector<std::byte*> buffers_;
  std::vector<std::byte*> buffer_pool_;
  std::unique_ptr<fabric::QueueHandler> handler_;
  std::deque<fabric::ControllerRequest*> fetches_;
  std::map<std::uint16_t, std::vector<std::byte>> pending_host_data_;
  std::deque<Completion> completions_;
  std::optional<fabric::QueueParams> params_;
  bool closed_ = false;
  bool auto_serve_ = true;
  bool cancellable_ = true;
  bool lends_ = false;
  bool borrows_ = false;
  std::vector<std::byte> receive_buffer_;
  std::size_t kept_count_ = 0;
  bool hold_sends_ = false;
  std::vector<std::shared_ptr<const void>> held_lenders_;
  std::size_t lent_count_ = 0;
  const std::byte* last_lent_ = nullptr;
  int close_calls_ = 0;
  std::size_t fetch_count_ = 0;
  std::size_t completed_count_ = 0;
};

}  // namespace nvmf::test
