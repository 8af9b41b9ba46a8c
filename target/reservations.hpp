// Reservations of one namespace (NVMe Base spec 2.0, section 8.19 "Reservations", and the Reservation Register,
// Report, Acquire and Release commands of the I/O command set): the registrants, keyed by host identifier so a host
// is one registrant across all of its controllers, the reservation type and its holder, and the generation.
//
// Commands change the state under a mutex (they are rare); the data path asks access() only when epoch() moved
// since it last asked, so in the steady state an I/O costs one atomic load and takes no lock.
// The state lives as long as the namespace (it survives a resize). It is lost on a restart unless the namespace
// names a PTPL file (ptpl_file, reservation_persistence.hpp) and a host turned PTPL on (CPTPL 11b or Set Features
// 83h): then every change is written to the file before the command completes, and the file is read at start.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nvme/status.hpp"

namespace nvmf::target {

using HostId = std::array<std::uint8_t, 16>;

/// RTYPE values (NVMe Base spec, Reservation Type Encoding).
enum class ReservationType : std::uint8_t {
  none = 0,
  write_exclusive = 1,
  exclusive_access = 2,
  write_exclusive_registrants_only = 3,
  exclusive_access_registrants_only = 4,
  write_exclusive_all_registrants = 5,
  exclusive_access_all_registrants = 6,
};

/// Reservation Notification log page types (RNLPT), one per event a host is told about.
enum class ReservationEvent : std::uint8_t {
  registration_preempted = 1,
  reservation_released = 2,
  reservation_preempted = 3,
};

/// An event for every controller of `host` (NVMe Base spec: notifications go to the host's controllers).
struct ReservationNotice {
  HostId host{};
  ReservationEvent event{};
};

/// What the current reservation forbids one host: the read command group (Read, Compare) and the write command
/// group (Write, Write Zeroes, Dataset Management, Flush).
struct ReservationAccess {
  bool read_denied = false;
  bool write_denied = false;
};

class NamespaceReservations {
 public:
  struct Result {
    nvme::Status status;
    std::vector<ReservationNotice> notices;  ///< To deliver once the command succeeded
  };

  /// Keep the state in `path` while PTPL is on, and restore what it holds now (PTPL on when it exists). Before any
  /// command; throws std::runtime_error naming the file and field when the file is unreadable.
  void persist_to(const std::string& path);
  /// A PTPL file is configured (RESCAP bit 0).
  bool persistence_supported() const { return !path_.empty(); }
  /// The PTPL state (Get Features 83h, the report's PTPLS).
  bool ptpl() const;
  /// Set Features 83h: Invalid Field without a PTPL file; Internal Error when the file cannot be written.
  nvme::Status set_ptpl(bool on);

  /// Reservation Register: RREGA 0 register, 1 unregister, 2 replace; IEKEY skips the CRKEY check; CPTPL 0 keeps
  /// the PTPL state, 2 clears it, 3 sets it (Invalid Field without a PTPL file), 1 is reserved.
  Result register_key(const HostId& host, std::uint8_t action, bool iekey, std::uint8_t cptpl, std::uint64_t crkey,
                      std::uint64_t nrkey);
  /// Reservation Acquire: RACQA 0 acquire, 1 preempt, 2 preempt and abort.
  Result acquire(const HostId& host, std::uint8_t action, bool iekey, std::uint8_t rtype, std::uint64_t crkey,
                 std::uint64_t prkey);
  /// Reservation Release: RRELA 0 release, 1 clear.
  Result release(const HostId& host, std::uint8_t action, bool iekey, std::uint8_t rtype, std::uint64_t crkey);
  /// Reservation Report with the extended data structure (the only one for 128-bit host identifiers): the
  /// 64-byte header, then one 64-byte Registrant Extended Data Structure per registrant, cut at `length`.
  void report_extended(std::uint8_t* out, std::size_t length) const;

  /// Changes with every change of the reservation or the registrants (release/acquire ordering).
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  /// What `host` may not do now; `epoch` receives the epoch this answer belongs to.
  ReservationAccess access(const HostId& host, std::uint64_t& epoch) const;

  // --- inspection (tests, reports)
  ReservationType type() const;
  std::uint32_t generation() const;
  std::optional<std::uint64_t> key_of(const HostId& host) const;
  bool holds(const HostId& host) const;

 private:
  struct Registrant {
    HostId host{};
    std::uint64_t key = 0;
  };

  Result register_key_locked(const HostId& host, std::uint8_t action, bool iekey, std::uint64_t crkey,
                             std::uint64_t nrkey);
  Result acquire_unsaved(const HostId& host, std::uint8_t action, bool iekey, std::uint8_t rtype, std::uint64_t crkey,
                         std::uint64_t prkey);
  Result release_unsaved(const HostId& host, std::uint8_t action, bool iekey, std::uint8_t rtype,
                         std::uint64_t crkey);
  /// After a command that may have changed the state since `epoch_before`: with PTPL on, write it to the file
  /// before the command completes (a failure turns the command's success into Internal Error).
  void persist_if_changed(std::uint64_t epoch_before, Result& result);
  /// Writes the current state (PTPL on) or removes the file (PTPL off); Internal Error (logged) when it cannot.
  nvme::Status save();
  Registrant* find_locked(const HostId& host);
  const Registrant* find_locked(const HostId& host) const;
  bool holds_locked(const HostId& host) const;
  /// Removes `host`'s registration; a holder's reservation goes with it (NVMe Base spec, Unregistering), except
  /// for the all-registrants types, which end only with the last registrant.
  void unregister_locked(const HostId& host, std::vector<ReservationNotice>& notices);
  /// Unregisters every registrant with `key` (except `keep`, if given) and tells each it was preempted unless
  /// it is `issuer`; returns how many went.
  std::size_t unregister_by_key_locked(std::uint64_t key, const HostId& issuer, const HostId* keep,
                                       std::vector<ReservationNotice>& notices);
  void notify_registrants_locked(const HostId& except, ReservationEvent event,
                                 std::vector<ReservationNotice>& notices) const;
  void changed_locked() { epoch_.fetch_add(1, std::memory_order_release); }

  mutable std::mutex mutex_;
  std::vector<Registrant> registrants_;  ///< In registration order (the order Report lists them)
  ReservationType type_ = ReservationType::none;
  HostId holder_{};  ///< Meaningful for the types with one holder only
  std::uint32_t generation_ = 0;
  std::atomic<std::uint64_t> epoch_{0};
  std::string path_;           ///< PTPL file; empty: PTPL not supported
  bool ptpl_ = false;          ///< Under mutex_
  std::mutex save_mutex_;      ///< One writer of the file at a time (its snapshot is taken under mutex_)
};

/// The all-registrants types make every registrant a reservation holder.
constexpr bool all_registrants(ReservationType t) {
  return t == ReservationType::write_exclusive_all_registrants || t == ReservationType::exclusive_access_all_registrants;
}

}  // namespace nvmf::target
