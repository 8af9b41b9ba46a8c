// Get Features / Set Features (admin opcodes 0Ah / 09h): number of queues, asynchronous event configuration,
// keep-alive timer, volatile write cache, host identifier, timestamp. A discovery controller has only the
// asynchronous event configuration and the keep-alive timer (nvmet_execute_disc_{get,set}_features).
#include <cstring>
#include <memory>
#include <vector>

#include "fabric/reactor.hpp"
#include "target/admin_queue.hpp"
#include "target/controller.hpp"

namespace nvmf::target {

namespace {
constexpr std::uint32_t kSaveBit = 1u << 31;        // Set Features CDW10 SV
constexpr std::uint32_t kExtendedHostId = 1u << 0;  // Get Features 81h CDW11 EXHID
constexpr std::uint32_t kTimestampSize = 8;
constexpr std::uint32_t kHostIdSize = 16;

enum class Select : std::uint8_t { current = 0, default_value = 1, saved = 2, capabilities = 3 };

bool discovery_feature(std::uint8_t fid) { return fid == NVME_FEAT_FID_ASYNC_EVENT || fid == NVME_FEAT_FID_KATO; }

/// Flushes every namespace, then completes the Set Features that disabled the write cache: data the cache held
/// must be durable before the host relies on write-through behaviour.
struct CacheDisableFlush {
  fabric::ControllerRequest* req;
  std::shared_ptr<Controller> controller;
  std::vector<BackendIo> ios;
  std::size_t left = 0;
  int first_error = 0;
  void (*complete)(CacheDisableFlush&) = nullptr;
};
}  // namespace

void AdminQueue::get_features(fabric::ControllerRequest& req) {
  const std::uint8_t fid = req.sqe.cdw10 & 0xFF;
  const auto sel = static_cast<Select>((req.sqe.cdw10 >> 8) & 0x7);
  if (controller_->is_discovery() && !discovery_feature(fid))
    return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  if (static_cast<std::uint8_t>(sel) > 3) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  // Saving is not supported (ONCS bit 4 clear), so the saved value is the default one.
  const bool want_default = sel == Select::default_value || sel == Select::saved;
  const std::uint16_t max_queues = controller_->registry().settings().max_io_queues;

  switch (fid) {
    case NVME_FEAT_FID_NUM_QUEUES:
    case NVME_FEAT_FID_ASYNC_EVENT:
    case NVME_FEAT_FID_KATO:
    case NVME_FEAT_FID_VOLATILE_WC:
    case NVME_FEAT_FID_TIMESTAMP:
    case NVME_FEAT_FID_HOST_ID:
      break;
    case NVME_FEAT_FID_RESV_MASK:
    case NVME_FEAT_FID_RESV_PERSIST:
      return get_reservation_feature(req);
    default:
      return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  }
  if (sel == Select::capabilities) {
    // Bit 2: changeable; never saveable, never namespace specific. The host identifier comes from Connect.
    req.cqe.dw0 = fid == NVME_FEAT_FID_HOST_ID ? 0 : 1u << 2;
    return finish(req, nvme::Status::success());
  }

  switch (fid) {
    case NVME_FEAT_FID_NUM_QUEUES:
      req.cqe.dw0 = want_default ? std::uint32_t(max_queues - 1) << 16 | std::uint32_t(max_queues - 1)
                                 : controller_->number_of_queues_dw0();
      return finish(req, nvme::Status::success());
    case NVME_FEAT_FID_ASYNC_EVENT:
      req.cqe.dw0 = want_default ? 0 : controller_->async_event_config();
      return finish(req, nvme::Status::success());
    case NVME_FEAT_FID_KATO:
      req.cqe.dw0 = want_default ? 0 : controller_->kato_ms();
      return finish(req, nvme::Status::success());
    case NVME_FEAT_FID_VOLATILE_WC:
      req.cqe.dw0 = want_default ? 1 : (controller_->write_cache_enabled() ? 1 : 0);
      return finish(req, nvme::Status::success());
    case NVME_FEAT_FID_TIMESTAMP: {
      std::uint64_t ts = controller_->timestamp_feature();
      return complete_with_data(req, &ts, kTimestampSize);
    }
    case NVME_FEAT_FID_HOST_ID:
      // Only the 128-bit form exists on fabrics (nvmet_get_feat_hostid).
      if (!(req.sqe.cdw11 & kExtendedHostId)) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
      return complete_with_data(req, controller_->host().id.data(), kHostIdSize);
  }
}

void AdminQueue::set_features(fabric::ControllerRequest& req) {
  const std::uint8_t fid = req.sqe.cdw10 & 0xFF;
  const std::uint32_t cdw11 = req.sqe.cdw11;
  if (controller_->is_discovery() && !discovery_feature(fid))
    return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));

  switch (fid) {
    case NVME_FEAT_FID_NUM_QUEUES:
    case NVME_FEAT_FID_ASYNC_EVENT:
    case NVME_FEAT_FID_KATO:
    case NVME_FEAT_FID_VOLATILE_WC:
    case NVME_FEAT_FID_TIMESTAMP:
    case NVME_FEAT_FID_HOST_ID:
      break;
    case NVME_FEAT_FID_RESV_MASK:
    case NVME_FEAT_FID_RESV_PERSIST:
      return set_reservation_feature(req);
    default:
      return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  }
  if (req.sqe.cdw10 & kSaveBit) return finish(req, nvme::Status::command_specific(NVME_SC_FEATURE_NOT_SAVEABLE));

  switch (fid) {
    case NVME_FEAT_FID_NUM_QUEUES: {
      std::uint32_t dw0 = 0;
      nvme::Status st = controller_->set_number_of_queues(cdw11 & 0xFFFF, cdw11 >> 16, dw0);
      if (st.ok()) req.cqe.dw0 = dw0;
      return finish(req, st);
    }
    case NVME_FEAT_FID_ASYNC_EVENT:
      return finish(req, controller_->set_async_event_config(cdw11));
    case NVME_FEAT_FID_KATO:
      controller_->set_kato_ms(cdw11);
      return finish(req, nvme::Status::success());
    case NVME_FEAT_FID_HOST_ID:
      // The host identifier is fixed by Connect (nvmet answers a sequence error as well).
      return finish(req, nvme::Status::generic(NVME_SC_CMD_SEQ_ERROR));
    case NVME_FEAT_FID_TIMESTAMP:
      if (req.direction != fabric::DataDirection::host_to_controller || req.data_length < kTimestampSize || !req.data)
        return finish(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
      if (!req.data_ready) return queue_.fetch_data(req);
      return set_features_with_data(req);
    case NVME_FEAT_FID_VOLATILE_WC: {
      const bool enable = cdw11 & 1;
      const bool was_enabled = controller_->write_cache_enabled();
      controller_->set_write_cache(enable);
      if (enable || !was_enabled) return finish(req, nvme::Status::success());
      auto table = controller_->namespaces();
      auto* flush = new CacheDisableFlush{&req, controller_, std::vector<BackendIo>(table->all().size()), 0, 0, nullptr};
      flush->left = flush->ios.size() + 1;  // +1: inline completions cannot finish before all are issued
      flush->complete = [](CacheDisableFlush& f) {
        if (--f.left > 0) return;
        std::unique_ptr<CacheDisableFlush> owned(&f);
        nvme::Status st = f.first_error ? nvme::Status::make(NVME_SCT_GENERIC, NVME_SC_INTERNAL) : nvme::Status();
        f.req->set_status(st);
        f.req->queue->complete(*f.req);
      };
      for (std::size_t i = 0; i < flush->ios.size(); ++i) {
        BackendIo& io = flush->ios[i];
        io.context = flush;
        io.done = [](BackendIo& done_io, int result) {
          auto& f = *static_cast<CacheDisableFlush*>(done_io.context);
          if (result < 0 && !f.first_error) f.first_error = result;
          f.complete(f);
        };
        table->all()[i]->backend->flush(queue_.reactor(), io);
      }
      return flush->complete(*flush);
    }
  }
}

void AdminQueue::set_features_with_data(fabric::ControllerRequest& req) {
  // Only Set Features Timestamp carries data: a 48-bit millisecond timestamp in bytes 5:0.
  std::uint64_t value = 0;
  std::memcpy(&value, req.data, 6);
  controller_->set_timestamp(value);
  finish(req, nvme::Status::success());
}

}  // namespace nvmf::target
