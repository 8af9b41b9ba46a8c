// Which block devices this host's `nvmf attach` processes serve: one small JSON file per device in a run
// directory (/run/nvmf/attach, or $NVMF_ATTACH_RUN_DIR), written by the serving process once the device is up and
// removed when it goes. `nvmf list-attached` reads them and drops entries whose process is gone.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nvmf::initiator::attach {

struct AttachedDevice {
  std::string device;  ///< /dev/ublkbN or /dev/nbdN
  std::string kind = "ublk";
  std::uint32_t dev_id = 0;  ///< N of the device
  int pid = 0;  ///< The serving process
  std::string transport;
  std::string traddr;
  std::string trsvcid;
  std::string subnqn;
  std::uint32_t nsid = 0;
};

std::string run_directory();
/// Write the entry (mode 0644: nothing secret in it). False and *error on failure.
bool record(const AttachedDevice& device, std::string* error);
void forget(const std::string& device);
/// Entries whose serving process still runs; stale files are removed.
std::vector<AttachedDevice> list_attached();
/// "/dev/ublkb3", "ublkb3" or "3" -> 3; nullopt for anything else.
std::optional<std::uint32_t> parse_ublk_device(const std::string& text);
/// "/dev/nbd3" or "nbd3" -> 3; nullopt for anything else.
std::optional<std::uint32_t> parse_nbd_device(const std::string& text);

}  // namespace nvmf::initiator::attach
