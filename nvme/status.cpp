#include "nvme/status.hpp"

#include <cstdio>

namespace nvmf::nvme {

std::string Status::to_string(bool fabrics) const {
  char head[64];
  std::snprintf(head, sizeof head, "SCT %Xh SC %02Xh%s", sct(), sc(), dnr() ? " DNR" : "");
  // libnvme looks the code up by SCT and SC; it ignores the flag bits above them.
  const char* text = nvme_status_to_string(value_ & 0x7ff, fabrics);
  return std::string(head) + " (" + (text ? text : "unknown") + ")";
}

}  // namespace nvmf::nvme
