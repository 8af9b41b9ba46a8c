// Get Log Page (admin opcode 02h): error information, SMART / health, firmware slot, changed namespace list,
// commands supported and effects on I/O controllers; the discovery log on discovery controllers. Every page is
// built whole and the requested window (LPOL/LPOU offset, NUMDL/NUMDU length) copied out of it.
#include <algorithm>
#include <cstring>
#include <vector>

#include "target/admin_queue.hpp"
#include "target/controller.hpp"
#include "target/discovery.hpp"

namespace nvmf::target {

namespace {
void put_u128(std::uint8_t* field, std::uint64_t value) {
  std::memset(field, 0, 16);
  std::memcpy(field, &value, sizeof value);  // little-endian low half; counts here never need the high half
}

std::uint64_t div_round_up(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

std::vector<std::uint8_t> smart_log(const Controller& c) {
  nvme_smart_log log;
  std::memset(&log, 0, sizeof log);
  const IoTotals t = c.subsystem().io_totals();
  // Data units are thousands of 512-byte units, rounded up (NVMe base spec, SMART / Health Information).
  put_u128(log.data_units_read, div_round_up(t.bytes_read / 512, 1000));
  put_u128(log.data_units_written, div_round_up(t.bytes_written / 512, 1000));
  put_u128(log.host_reads, t.read_commands);
  put_u128(log.host_writes, t.write_commands);
  auto up = std::chrono::steady_clock::now() - c.registry().start_time();
  put_u128(log.power_on_hours, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::hours>(up).count()));
  put_u128(log.power_cycles, 1);
  put_u128(log.media_errors, t.media_errors);
  put_u128(log.num_err_log_entries, c.error_log().count());
  // Temperature, spare and wear stay 0 as with nvmet: there is no sensor and no wear to report.
  std::vector<std::uint8_t> out(sizeof log);
  std::memcpy(out.data(), &log, sizeof log);
  return out;
}

std::vector<std::uint8_t> error_log(const Controller& c) {
  auto entries = c.error_log().entries();
  std::vector<std::uint8_t> out(entries.size() * sizeof(nvme_error_log_page));
  std::memcpy(out.data(), entries.data(), out.size());
  return out;
}

std::vector<std::uint8_t> firmware_slot_log(const Controller& c) {
  nvme_firmware_slot log;
  std::memset(&log, 0, sizeof log);
  log.afi = 1;  // slot 1 active
  std::memset(log.frs[0], ' ', sizeof log.frs[0]);
  const std::string& fr = c.subsystem().identity().firmware;
  std::memcpy(log.frs[0], fr.data(), std::min(fr.size(), sizeof log.frs[0]));
  std::vector<std::uint8_t> out(sizeof log);
  std::memcpy(out.data(), &log, sizeof log);
  return out;
}

std::vector<std::uint8_t> command_effects_log() {
  nvme_cmd_effects_log log;
  std::memset(&log, 0, sizeof log);
  for (int op : {nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_abort_cmd, nvme_admin_set_features,
                 nvme_admin_get_features, nvme_admin_async_event, nvme_admin_keep_alive})
    log.acs[op] = NVME_CMD_EFFECTS_CSUPP;
  for (int op : {nvme_cmd_flush, nvme_cmd_read, nvme_cmd_compare}) log.iocs[op] = NVME_CMD_EFFECTS_CSUPP;
  for (int op : {nvme_cmd_resv_register, nvme_cmd_resv_report, nvme_cmd_resv_acquire, nvme_cmd_resv_release})
    log.iocs[op] = NVME_CMD_EFFECTS_CSUPP;
  for (int op : {nvme_cmd_write, nvme_cmd_write_zeroes, nvme_cmd_dsm})
    log.iocs[op] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
  std::vector<std::uint8_t> out(sizeof log);
  std::memcpy(out.data(), &log, sizeof log);
  return out;
}
}  // namespace

void AdminQueue::get_log_page(fabric::ControllerRequest& req) {
  const std::uint8_t lid = req.sqe.cdw10 & 0xFF;
  const std::uint64_t numd = ((std::uint64_t(req.sqe.cdw11 & 0xFFFF) << 16) | (req.sqe.cdw10 >> 16)) + 1;
  const std::uint64_t length = numd * 4;
  const std::uint64_t offset = std::uint64_t(req.sqe.cdw13) << 32 | req.sqe.cdw12;
  const std::uint32_t nsid = req.sqe.nsid;
  const bool rae = req.sqe.cdw10 & (1u << 15);  // Retain Asynchronous Event

  std::vector<std::uint8_t> page;
  if (controller_->is_discovery()) {
    // nvmet_execute_disc_get_log_page: only the discovery log; anything else is an invalid field.
    if (lid != NVME_LOG_LID_DISCOVER) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
    page = build_discovery_log(controller_->registry().discovery_snapshot(), controller_->host_nqn());
    controller_->discovery_log_read(rae);
  } else {
    switch (lid) {
      case NVME_LOG_LID_ERROR:
        page = error_log(*controller_);
        break;
      case NVME_LOG_LID_SMART:
        // SMART is kept for the whole controller only (LPA bit 0 clear): a namespace-specific request is
        // an invalid field.
        if (nsid != 0 && nsid != NVME_NSID_ALL) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
        page = smart_log(*controller_);
        break;
      case NVME_LOG_LID_FW_SLOT:
        page = firmware_slot_log(*controller_);
        break;
      case NVME_LOG_LID_CHANGED_NS:
        page = controller_->changed_namespace_log(rae);
        break;
      case NVME_LOG_LID_CMD_EFFECTS:
        page = command_effects_log();
        break;
      case NVME_LOG_LID_ANA:
        if (!controller_->ana_reported()) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
        // LSP bit 0 (CDW10 bit 8) is RGO: return groups only, no NSID lists.
        page = controller_->ana_log(rae, req.sqe.cdw10 & (1u << 8));
        break;
      case NVME_LOG_LID_RESERVATION:
        page = controller_->reservation_log_page(rae);
        break;
      default:
        // nvmet answers unsupported log pages with Invalid Field.
        return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
    }
  }

  // The offset must be dword aligned and inside the page (NVMe base spec, Get Log Page LPOL).
  if (offset % 4 != 0 || offset > page.size()) return finish(req, nvme::Status::generic(NVME_SC_INVALID_FIELD));
  if (req.direction != fabric::DataDirection::controller_to_host || req.data_length != length || !req.data)
    return finish(req, nvme::Status::generic(NVME_SC_SGL_INVALID_DATA));
  const std::size_t available = page.size() - static_cast<std::size_t>(offset);
  const std::size_t copied = std::min<std::size_t>(available, static_cast<std::size_t>(length));
  std::memcpy(req.data, page.data() + offset, copied);
  std::memset(req.data + copied, 0, static_cast<std::size_t>(length) - copied);  // beyond the end reads zeroes
  finish(req, nvme::Status::success());
}

}  // namespace nvmf::target
