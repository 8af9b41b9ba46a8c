// Persist Through Power Loss for reservations (NVMe Base spec 2.0, "Reservations": PTPL): the registrants, the
// reservation and the generation of one namespace kept in a file of its own, as SPDK keeps them in the file its
// nvmf_subsystem_add_ns names. Written whole to a temporary file, synced and renamed over the old one (then the
// directory synced), so a crash leaves either the old state or the new one. Mode 0600: the file holds every
// registrant's key.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nvmf::target {

struct PersistedReservations {
  struct Registrant {
    std::array<std::uint8_t, 16> host{};
    std::uint64_t key = 0;
  };
  std::vector<Registrant> registrants;  ///< In registration order
  std::uint8_t type = 0;                ///< RTYPE; 0: no reservation
  std::array<std::uint8_t, 16> holder{};
  std::uint32_t generation = 0;
};

/// Reads `path`. False when it does not exist (nothing persisted); throws std::runtime_error naming the file and
/// the field when it exists but cannot be read or parsed.
bool load_persisted_reservations(const std::string& path, PersistedReservations* out);
/// Replaces `path` atomically and durably; false with *error (no key in it) on failure.
bool save_persisted_reservations(const std::string& path, const PersistedReservations& state, std::string* error);
/// Removes `path` (PTPL cleared: nothing survives a restart); false with *error when it exists and cannot go.
bool remove_persisted_reservations(const std::string& path, std::string* error);

}  // namespace nvmf::target
