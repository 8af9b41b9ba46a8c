// A private anonymous mapping: memory the kernel commits page by page on first touch. For buffers sized for the
// worst case (a receive staging buffer deep enough to empty the socket) that most users touch only the start of.
#pragma once
#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace nvmf::fabric {

class AnonymousMemory {
 public:
  explicit AnonymousMemory(std::size_t size) : size_(size) {
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of a buffer");
    data_ = static_cast<std::uint8_t*>(p);
  }
  ~AnonymousMemory() { munmap(data_, size_); }
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;

  std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_;
  std::uint8_t* data_ = nullptr;
};

}  // namespace nvmf::fabric
