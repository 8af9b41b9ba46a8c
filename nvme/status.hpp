// NVMe completion status as a small value type. The encoding is libnvme's: the CQE status field shifted right
// by one (drops the phase tag), so SC is bits 7:0, SCT bits 10:8, CRD 12:11, More 13, DNR 14. That makes
// libnvme's NVME_SC_* / NVME_SCT_* constants and nvme_status_to_string() usable directly.
#pragma once
#include <cstdint>
#include <string>

#include "nvme/libnvme.hpp"

namespace nvmf::nvme {

class Status {
 public:
  constexpr Status() = default;
  /// From libnvme's encoding (SC | SCT << 8 | flags), e.g. Status(NVME_SC_INVALID_FIELD | NVME_SC_DNR).
  constexpr explicit Status(std::uint16_t value) : value_(value) {}
  static constexpr Status make(std::uint8_t sct, std::uint8_t sc, bool dnr = false) {
    return Status(static_cast<std::uint16_t>(sc | (sct & 0x7) << 8 | (dnr ? NVME_SC_DNR : 0)));
  }
  /// Generic command status with DNR set: the usual answer to a malformed command.
  static constexpr Status generic(std::uint8_t sc) { return make(NVME_SCT_GENERIC, sc, true); }
  static constexpr Status command_specific(std::uint8_t sc) { return make(NVME_SCT_CMD_SPECIFIC, sc, true); }
  static constexpr Status media(std::uint8_t sc) { return make(NVME_SCT_MEDIA, sc, true); }
  static constexpr Status success() { return Status(); }

  /// From the 16-bit CQE status field (phase tag in bit 0).
  static constexpr Status from_cqe_field(std::uint16_t field) { return Status(static_cast<std::uint16_t>(field >> 1)); }
  constexpr std::uint16_t to_cqe_field(bool phase = false) const {
    return static_cast<std::uint16_t>(value_ << 1 | (phase ? 1 : 0));
  }

  constexpr bool ok() const { return (value_ & 0x7ff) == 0; }
  constexpr std::uint8_t sc() const { return static_cast<std::uint8_t>(value_ & 0xff); }
  constexpr std::uint8_t sct() const { return static_cast<std::uint8_t>(value_ >> 8 & 0x7); }
  constexpr bool dnr() const { return value_ & NVME_SC_DNR; }
  constexpr bool more() const { return value_ & 0x2000; }
  constexpr std::uint16_t value() const { return value_; }
  constexpr Status with_dnr() const { return Status(static_cast<std::uint16_t>(value_ | NVME_SC_DNR)); }
  constexpr Status without_dnr() const { return Status(static_cast<std::uint16_t>(value_ & ~NVME_SC_DNR)); }

  /// Same SCT and SC (flags such as DNR ignored).
  constexpr bool same_code(Status o) const { return (value_ & 0x7ff) == (o.value_ & 0x7ff); }
  constexpr bool operator==(const Status&) const = default;

  /// "SCT 0h SC 2h (Invalid Field in Command: ...)", with libnvme's text for the code. Command-specific codes
  /// from 80h up mean different things for Fabrics commands (Connect) and for NVM commands: `fabrics` picks.
  std::string to_string(bool fabrics = false) const;

 private:
  std::uint16_t value_ = 0;
};

}  // namespace nvmf::nvme
