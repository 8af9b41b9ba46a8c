// The reservation state machine of one namespace. Facts from the NVMe Base spec 2.0, section 8.19 and the
// Reservation commands (7.2-7.6 of the NVM command set); where the spec leaves a choice, nvmet (drivers/nvme/target
// /pr.c, 6.13+) is followed, since the Linux host and blktests were written against it.
#include "target/reservations.hpp"

#include <algorithm>
#include <cstring>

#include "fabric/log.hpp"
#include "nvme/libnvme.hpp"
#include "target/reservation_persistence.hpp"

namespace nvmf::target {

namespace {
constexpr std::size_t kReportHeaderSize = 64;  // Reservation Status Extended Data Structure header
constexpr std::size_t kRegistrantSize = 64;    // Registrant Extended Data Structure
static_assert(sizeof(nvme_registered_ctrl_ext) == kRegistrantSize);
static_assert(offsetof(nvme_resv_status, regctl_eds) == kReportHeaderSize);
static_assert(offsetof(nvme_registered_ctrl_ext, rkey) == 8 && offsetof(nvme_registered_ctrl_ext, hostid) == 16);
constexpr std::uint16_t kDynamicCntlid = 0xFFFF;  // registrants are hosts, not controllers (dynamic model)

nvme::Status conflict() { return nvme::Status::generic(NVME_SC_RESERVATION_CONFLICT); }
nvme::Status invalid_field() { return nvme::Status::generic(NVME_SC_INVALID_FIELD); }

bool valid_type(std::uint8_t rtype) { return rtype >= 1 && rtype <= 6; }
}  // namespace

NamespaceReservations::Registrant* NamespaceReservations::find_locked(const HostId& host) {
  auto it = std::find_if(registrants_.begin(), registrants_.end(), [&](const Registrant& r) { return r.host == host; });
  return it == registrants_.end() ? nullptr : &*it;
}

const NamespaceReservations::Registrant* NamespaceReservations::find_locked(const HostId& host) const {
  return const_cast<NamespaceReservations*>(this)->find_locked(host);
}

bool NamespaceReservations::holds_locked(const HostId& host) const {
  if (type_ == ReservationType::none) return false;
  if (all_registrants(type_)) return find_locked(host) != nullptr;
  return holder_ == host;
}

void NamespaceReservations::notify_registrants_locked(const HostId& except, ReservationEvent event,
                                                      std::vector<ReservationNotice>& notices) const {
  for (const Registrant& r : registrants_)
    if (r.host != except) notices.push_back({r.host, event});
}

void NamespaceReservations::unregister_locked(const HostId& host, std::vector<ReservationNotice>& notices) {
  const bool was_holder = holds_locked(host);
  std::erase_if(registrants_, [&](const Registrant& r) { return r.host == host; });
  if (!was_holder) return;
  if (all_registrants(type_)) {
    if (registrants_.empty()) type_ = ReservationType::none;  // the last holder went
    return;
  }
  const ReservationType old = type_;
  type_ = ReservationType::none;
  holder_ = {};
  // Only the registrants-only types give the other registrants access they lose now: they are told.
  if (old == ReservationType::write_exclusive_registrants_only || old == ReservationType::exclusive_access_registrants_only)
    notify_registrants_locked(host, ReservationEvent::reservation_released, notices);
}

std::size_t NamespaceReservations::unregister_by_key_locked(std::uint64_t key, const HostId& issuer, const HostId* keep,
                                                            std::vector<ReservationNotice>& notices) {
  std::vector<HostId> victims;
  for (const Registrant& r : registrants_)
    if (r.key == key && !(keep && r.host == *keep)) victims.push_back(r.host);
  for (const HostId& h : victims) {
    unregister_locked(h, notices);
    if (h != issuer) notices.push_back({h, ReservationEvent::registration_preempted});
  }
  return victims.size();
}

void NamespaceReservations::persist_to(const std::string& path) {
  PersistedReservations saved;
  const bool found = load_persisted_reservations(path, &saved);
  std::lock_guard lock(mutex_);
  path_ = path;
  if (!found) return;
  ptpl_ = true;
  registrants_.clear();
  for (const auto& r : saved.registrants) registrants_.push_back({r.host, r.key});
  type_ = static_cast<ReservationType>(saved.type);
  holder_ = saved.holder;
  generation_ = saved.generation;
  changed_locked();
}

bool NamespaceReservations::ptpl() const {
  std::lock_guard lock(mutex_);
  return ptpl_;
}

nvme::Status NamespaceReservations::save() {
  std::lock_guard saving(save_mutex_);
  PersistedReservations s;
  bool on;
  {
    std::lock_guard lock(mutex_);
    on = ptpl_;
    for (const Registrant& r : registrants_) s.registrants.push_back({r.host, r.key});
    s.type = static_cast<std::uint8_t>(type_);
    s.holder = holder_;
    s.generation = generation_;
  }
  std::string error;
  if (on ? save_persisted_reservations(path_, s, &error) : remove_persisted_reservations(path_, &error))
    return nvme::Status::success();
  NVMF_LOG(error, "reservations: PTPL: %s", error.c_str());
  return nvme::Status::generic(NVME_SC_INTERNAL);
}

void NamespaceReservations::persist_if_changed(std::uint64_t epoch_before, Result& result) {
  if (path_.empty() || !result.status.ok() || epoch() == epoch_before || !ptpl()) return;
  result.status = save();
}

nvme::Status NamespaceReservations::set_ptpl(bool on) {
  if (path_.empty()) return invalid_field();
  {
    std::lock_guard lock(mutex_);
    ptpl_ = on;
  }
  return save();
}

NamespaceReservations::Result NamespaceReservations::register_key(const HostId& host, std::uint8_t action, bool iekey,
                                                                  std::uint8_t cptpl, std::uint64_t crkey,
                                                                  std::uint64_t nrkey) {
  // CPTPL 01b is reserved; 11b asks for PTPL, which only a namespace with a PTPL file can keep (RESCAP bit 0).
  if (cptpl == 1 || (cptpl == 3 && path_.empty()) || action > 2) return {invalid_field(), {}};
  const std::uint64_t before = epoch();
  Result result = register_key_locked(host, action, iekey, crkey, nrkey);
  if (result.status.ok() && cptpl >= 2) {
    // The PTPL state changes with a successful register (NVMe Base spec, Reservation Register, CPTPL).
    {
      std::lock_guard lock(mutex_);
      ptpl_ = cptpl == 3;
    }
    if (!path_.empty()) result.status = save();
    return result;
  }
  persist_if_changed(before, result);
  return result;
}

NamespaceReservations::Result NamespaceReservations::register_key_locked(const HostId& host, std::uint8_t action,
                                                                         bool iekey, std::uint64_t crkey,
                                                                         std::uint64_t nrkey) {
  std::lock_guard lock(mutex_);
  Result result;
  Registrant* reg = find_locked(host);
  switch (action) {
    case 0:  // register: a second registration with the same key is a no-op, with another key a conflict
      if (reg && reg->key != nrkey) return {conflict(), {}};
      if (!reg) registrants_.push_back({host, nrkey});
      break;
    case 1:  // unregister
      if (!reg || (!iekey && reg->key != crkey)) return {conflict(), {}};
      unregister_locked(host, result.notices);
      break;
    case 2:  // replace: the reservation, if held, stays with the host
      if (!reg || (!iekey && reg->key != crkey)) return {conflict(), {}};
      reg->key = nrkey;
      break;
  }
  ++generation_;
  changed_locked();
  return result;
}

NamespaceReservations::Result NamespaceReservations::acquire(const HostId& host, std::uint8_t action, bool iekey,
                                                             std::uint8_t rtype, std::uint64_t crkey,
                                                             std::uint64_t prkey) {
  const std::uint64_t before = epoch();
  Result result = acquire_unsaved(host, action, iekey, rtype, crkey, prkey);
  persist_if_changed(before, result);
  return result;
}

NamespaceReservations::Result NamespaceReservations::release(const HostId& host, std::uint8_t action, bool iekey,
                                                             std::uint8_t rtype, std::uint64_t crkey) {
  const std::uint64_t before = epoch();
  Result result = release_unsaved(host, action, iekey, rtype, crkey);
  persist_if_changed(before, result);
  return result;
}

NamespaceReservations::Result NamespaceReservations::acquire_unsaved(const HostId& host, std::uint8_t action,
                                                                     bool iekey, std::uint8_t rtype,
                                                                     std::uint64_t crkey, std::uint64_t prkey) {
  // IEKEY is obsolete for Acquire since NVMe 1.3 (RESCAP bit 7 says we follow 1.3): Invalid Field.
  if (iekey || !valid_type(rtype) || action > 2) return {invalid_field(), {}};
  const auto type = static_cast<ReservationType>(rtype);
  std::lock_guard lock(mutex_);
  const Registrant* reg = find_locked(host);
  if (!reg || reg->key != crkey) return {conflict(), {}};
  Result result;

  if (action == 0) {
    if (type_ == ReservationType::none) {
      type_ = type;
      holder_ = host;
      changed_locked();
      return result;
    }
    // A holder acquiring the type it holds succeeds and changes nothing; anything else conflicts.
    if (holds_locked(host) && type_ == type) return result;
    return {conflict(), {}};
  }

  // Preempt (1) and preempt and abort (2).
  auto take_reservation = [&] {
    type_ = type;
    holder_ = host;
  };
  if (type_ == ReservationType::none) {
    if (unregister_by_key_locked(prkey, host, nullptr, result.notices) == 0) return {conflict(), {}};
  } else if (all_registrants(type_)) {
    if (prkey == 0) {
      // Every other registrant goes; the issuer holds a reservation of the new type.
      take_reservation();
      std::vector<HostId> others;
      for (const Registrant& r : registrants_)
        if (r.host != host) others.push_back(r.host);
      std::erase_if(registrants_, [&](const Registrant& r) { return r.host != host; });
      for (const HostId& h : others) result.notices.push_back({h, ReservationEvent::registration_preempted});
    } else if (unregister_by_key_locked(prkey, host, nullptr, result.notices) == 0) {
      return {conflict(), {}};
    }
  } else if (holder_ == host) {
    // The holder preempting itself changes the type; the others learn their access changed.
    const ReservationType old = type_;
    type_ = type;
    if (old != type) notify_registrants_locked(host, ReservationEvent::reservation_released, result.notices);
  } else if (const Registrant* holder = find_locked(holder_); holder && prkey == holder->key) {
    const ReservationType old = type_;
    take_reservation();  // first, so unregistering the old holder releases nothing
    unregister_by_key_locked(prkey, host, &host, result.notices);
    if (old != type) notify_registrants_locked(host, ReservationEvent::reservation_released, result.notices);
  } else if (prkey != 0) {
    if (unregister_by_key_locked(prkey, host, nullptr, result.notices) == 0) return {conflict(), {}};
  } else {
    return {invalid_field(), {}};  // PRKEY 0 names no registrant when a single host holds the reservation
  }
  ++generation_;
  changed_locked();
  return result;
}

NamespaceReservations::Result NamespaceReservations::release_unsaved(const HostId& host, std::uint8_t action,
                                                                     bool iekey, std::uint8_t rtype,
                                                                     std::uint64_t crkey) {
  if (iekey || action > 1) return {invalid_field(), {}};
  std::lock_guard lock(mutex_);
  const Registrant* reg = find_locked(host);
  if (!reg || reg->key != crkey) return {conflict(), {}};
  Result result;
  if (action == 0) {
    // Releasing what one does not hold succeeds and does nothing (NVMe Base spec, Releasing a Reservation).
    if (!holds_locked(host)) return result;
    if (rtype != static_cast<std::uint8_t>(type_)) return {invalid_field(), {}};
    const ReservationType old = type_;
    type_ = ReservationType::none;
    holder_ = {};
    if (old != ReservationType::write_exclusive && old != ReservationType::exclusive_access)
      notify_registrants_locked(host, ReservationEvent::reservation_released, result.notices);
    changed_locked();
    return result;
  }
  // Clear: every registration and the reservation go; the other registrants were preempted.
  notify_registrants_locked(host, ReservationEvent::reservation_preempted, result.notices);
  registrants_.clear();
  type_ = ReservationType::none;
  holder_ = {};
  ++generation_;
  changed_locked();
  return result;
}

void NamespaceReservations::report_extended(std::uint8_t* out, std::size_t length) const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint8_t> page(kReportHeaderSize + registrants_.size() * kRegistrantSize, 0);
  auto* status = reinterpret_cast<nvme_resv_status*>(page.data());
  status->gen = generation_;
  status->rtype = static_cast<std::uint8_t>(type_);
  const auto count = static_cast<std::uint16_t>(registrants_.size());
  std::memcpy(status->regctl, &count, sizeof count);
  status->ptpls = ptpl_ ? 1 : 0;
  for (std::size_t i = 0; i < registrants_.size(); ++i) {
    nvme_registered_ctrl_ext entry{};
    entry.cntlid = kDynamicCntlid;
    entry.rcsts = holds_locked(registrants_[i].host) ? 1 : 0;
    entry.rkey = registrants_[i].key;
    std::memcpy(entry.hostid, registrants_[i].host.data(), sizeof entry.hostid);
    std::memcpy(page.data() + kReportHeaderSize + i * kRegistrantSize, &entry, sizeof entry);
  }
  const std::size_t copied = std::min(length, page.size());
  std::memcpy(out, page.data(), copied);
  std::memset(out + copied, 0, length - copied);
}

ReservationAccess NamespaceReservations::access(const HostId& host, std::uint64_t& epoch) const {
  std::lock_guard lock(mutex_);
  epoch = epoch_.load(std::memory_order_relaxed);
  if (type_ == ReservationType::none || holds_locked(host)) return {};
  const bool registered = find_locked(host) != nullptr;
  // NVMe Base spec, "Command Behavior in the Presence of a Reservation".
  switch (type_) {
    case ReservationType::write_exclusive: return {false, true};
    case ReservationType::exclusive_access: return {true, true};
    case ReservationType::write_exclusive_registrants_only:
    case ReservationType::write_exclusive_all_registrants: return {false, !registered};
    case ReservationType::exclusive_access_registrants_only:
    case ReservationType::exclusive_access_all_registrants: return {!registered, !registered};
    case ReservationType::none: break;
  }
  return {};
}

ReservationType NamespaceReservations::type() const {
  std::lock_guard lock(mutex_);
  return type_;
}

std::uint32_t NamespaceReservations::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::optional<std::uint64_t> NamespaceReservations::key_of(const HostId& host) const {
  std::lock_guard lock(mutex_);
  const Registrant* r = find_locked(host);
  return r ? std::optional<std::uint64_t>(r->key) : std::nullopt;
}

bool NamespaceReservations::holds(const HostId& host) const {
  std::lock_guard lock(mutex_);
  return holds_locked(host);
}

}  // namespace nvmf::target
