#include "fabric/rdma/registration_cache.hpp"

#include <algorithm>

namespace nvmf::fabric::rdma {

RegistrationCache::RegistrationCache(MemoryRegistrar& registrar, std::size_t page_size)
    : registrar_(registrar), page_size_(page_size) {}

RegistrationCache::~RegistrationCache() {
  for (auto& [start, e] : live_) registrar_.deregister_region(e->region);
  for (auto& e : retired_) registrar_.deregister_region(e->region);
}

RegistrationCache::Entry* RegistrationCache::acquire(const void* address, std::size_t length, std::string* error) {
  const auto begin = reinterpret_cast<std::uintptr_t>(address);
  const std::uintptr_t end = begin + std::max<std::size_t>(length, 1);

  // The region starting at or before `begin` is the only one that can cover it (regions never overlap).
  auto it = live_.upper_bound(begin);
  if (it != live_.begin()) {
    auto& e = *std::prev(it)->second;
    if (e.region.start <= begin && end <= e.region.start + e.region.length) {
      ++hits_;
      ++e.users;
      return &e;
    }
  }

  // Miss: register the page-aligned union of the request and every region it overlaps or touches.
  ++misses_;
  std::uintptr_t lo = begin / page_size_ * page_size_;
  std::uintptr_t hi = (end + page_size_ - 1) / page_size_ * page_size_;
  std::vector<std::uintptr_t> merged;
  for (auto m = live_.begin(); m != live_.end(); ++m) {
    const auto& r = m->second->region;
    if (r.start <= hi && lo <= r.start + r.length) {
      lo = std::min(lo, r.start);
      hi = std::max(hi, r.start + r.length);
      merged.push_back(m->first);
    }
  }
  auto entry = std::make_unique<Entry>();
  if (!registrar_.register_region(lo, hi - lo, &entry->region, error)) return nullptr;
  for (auto key : merged) {
    auto node = live_.extract(key);
    retire(std::move(node.mapped()));
  }
  entry->users = 1;
  Entry* out = entry.get();
  live_.emplace(lo, std::move(entry));
  return out;
}

void RegistrationCache::release(Entry* entry) {
  if (!entry || entry->users == 0) return;
  if (--entry->users > 0 || !entry->retired) return;
  auto it = std::find_if(retired_.begin(), retired_.end(), [entry](const auto& e) { return e.get() == entry; });
  if (it == retired_.end()) return;
  registrar_.deregister_region((*it)->region);
  retired_.erase(it);
}

void RegistrationCache::forget(const void* address, std::size_t length) {
  const auto begin = reinterpret_cast<std::uintptr_t>(address);
  const std::uintptr_t end = begin + std::max<std::size_t>(length, 1);
  for (auto it = live_.begin(); it != live_.end();) {
    const auto& r = it->second->region;
    if (r.start < end && begin < r.start + r.length) {
      auto node = live_.extract(it++);
      retire(std::move(node.mapped()));
    } else {
      ++it;
    }
  }
}

void RegistrationCache::retire(std::unique_ptr<Entry> entry) {
  if (entry->users == 0) {
    registrar_.deregister_region(entry->region);
    return;
  }
  entry->retired = true;
  retired_.push_back(std::move(entry));
}

}  // namespace nvmf::fabric::rdma
