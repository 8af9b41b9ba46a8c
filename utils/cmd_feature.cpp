// nvmf get-feature: Get Features (NVMe base 5.27) with nvme-cli's output: "get-feature:0x07 (Number of Queues),
// Current value:0x00030003", and the data buffer in hex for features that return one. nvme-cli's -n
// (namespace) and -s (select) clash with the connection options here: -N/--namespace-id and --sel.
#include <cstdio>
#include <vector>

#include "initiator/commands.hpp"
#include "utils/cli_common.hpp"
#include "utils/commands.hpp"

namespace nvmf::cli {

namespace {
struct FeatureInfo {
  const char* name;
  std::uint32_t data_bytes;  ///< Size of the data the controller returns (0: none, DW0 only)
};

// Names as nvme-cli prints them; data sizes from the feature definitions (NVMe base 2.0, 5.27.1).
FeatureInfo feature_info(std::uint8_t fid) {
  switch (fid) {
    case NVME_FEAT_FID_ARBITRATION: return {"Arbitration", 0};
    case NVME_FEAT_FID_POWER_MGMT: return {"Power Management", 0};
    case NVME_FEAT_FID_LBA_RANGE: return {"LBA Range Type", 4096};
    case NVME_FEAT_FID_TEMP_THRESH: return {"Temperature Threshold", 0};
    case NVME_FEAT_FID_ERR_RECOVERY: return {"Error Recovery", 0};
    case NVME_FEAT_FID_VOLATILE_WC: return {"Volatile Write Cache", 0};
    case NVME_FEAT_FID_NUM_QUEUES: return {"Number of Queues", 0};
    case NVME_FEAT_FID_IRQ_COALESCE: return {"Interrupt Coalescing", 0};
    case NVME_FEAT_FID_IRQ_CONFIG: return {"Interrupt Vector Configuration", 0};
    case NVME_FEAT_FID_WRITE_ATOMIC: return {"Write Atomicity Normal", 0};
    case NVME_FEAT_FID_ASYNC_EVENT: return {"Async Event Configuration", 0};
    case NVME_FEAT_FID_AUTO_PST: return {"Autonomous Power State Transition", 256};
    case NVME_FEAT_FID_HOST_MEM_BUF: return {"Host Memory Buffer", 4096};
    case NVME_FEAT_FID_TIMESTAMP: return {"Timestamp", 8};
    case NVME_FEAT_FID_KATO: return {"Keep Alive Timer", 0};
    case NVME_FEAT_FID_HCTM: return {"Host Controlled Thermal Management", 0};
    case NVME_FEAT_FID_NOPSC: return {"Non-Operational Power State Config", 0};
    case NVME_FEAT_FID_HOST_BEHAVIOR: return {"Host Behavior Support", 512};
    case NVME_FEAT_FID_HOST_ID: return {"Host Identifier", 16};
    case NVME_FEAT_FID_RESV_MASK: return {"Reservation Notification Mask", 0};
    case NVME_FEAT_FID_RESV_PERSIST: return {"Reservation Persistence", 0};
    default: return {"Unknown", 0};
  }
}

const char* sel_name(unsigned sel) {
  static const char* names[] = {"Current", "Default", "Saved", "Supported capabilities"};
  return sel < 4 ? names[sel] : "Reserved";
}
}  // namespace

void add_feature_commands(CLI::App& app) {
  struct Args {
    ConnectArgs connect;
    unsigned fid = 0;
    std::uint32_t nsid = 0;
    unsigned sel = 0;
    std::uint32_t cdw11 = 0;
    std::uint32_t data_len = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("get-feature", "Get Features: the current (or default, saved, supported) value");
  add_connect_options(cmd, a->connect, false);
  cmd->add_option("-f,--feature-id", a->fid, "Feature identifier")->required()->check(CLI::Range(1, 255));
  cmd->add_option("-N,--namespace-id", a->nsid, "Namespace, for namespace-specific features");
  cmd->add_option("--sel", a->sel, "0 current, 1 default, 2 saved, 3 supported capabilities (nvme-cli: -s)")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  cmd->add_option("--cdw11", a->cdw11, "Command dword 11 (feature-specific)");
  cmd->add_option("-l,--data-len", a->data_len, "Bytes of data to read (default: the feature's size)");
  cmd->callback([a] {
    a->connect.options.nr_io_queues = 0;
    auto ctrl = connect_or_exit(a->connect);
    const auto fid = static_cast<std::uint8_t>(a->fid);
    const FeatureInfo info = feature_info(fid);
    // Host Identifier: EXHID (CDW11 bit 0) selects the 128-bit form, else 64 bits.
    std::uint32_t bytes = a->data_len ? a->data_len : info.data_bytes;
    if (fid == NVME_FEAT_FID_HOST_ID && !a->data_len) bytes = (a->cdw11 & 1) ? 16 : 8;
    if (a->sel == 3) bytes = 0;  // capabilities come in DW0 only
    std::vector<std::uint8_t> data(bytes);
    nvme::Cqe cqe{};
    nvme::Status s = ctrl->admin_command(initiator::make_get_features(fid, a->nsid, static_cast<std::uint8_t>(a->sel),
                                                                      a->cdw11),
                                         bytes ? data.data() : nullptr, bytes,
                                         bytes ? fabric::DataDirection::controller_to_host : fabric::DataDirection::none,
                                         &cqe);
    ctrl->shutdown();
    if (!s.ok()) fail("get-feature:0x" + hex_bytes(&fid, 1) + " (" + info.name + "): " + s.to_string());
    if (a->connect.json()) {
      nlohmann::ordered_json j = {{"feature_id", a->fid}, {"name", info.name}, {"sel", sel_name(a->sel)},
                                  {"value", cqe.dw0}};
      if (bytes) j["data"] = hex_bytes(data.data(), data.size());
      print_json(j);
      return;
    }
    std::printf("get-feature:%#04x (%s), %s value:%#010x\n", a->fid, info.name, sel_name(a->sel), cqe.dw0);
    for (std::size_t off = 0; off < data.size(); off += 16) {
      std::printf("%04zx:", off);
      for (std::size_t i = off; i < off + 16 && i < data.size(); ++i) std::printf(" %02x", data[i]);
      std::printf("\n");
    }
  });
}

}  // namespace nvmf::cli
