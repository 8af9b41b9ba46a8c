#include "target/backends/block_backend.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "target/backends/file_backend.hpp"

namespace nvmf::target {

std::shared_ptr<Backend> open_block_device(const std::string& path) {
  const std::string what = "block device '" + path + "': ";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(what + "cannot open: " + std::strerror(errno));
  struct stat st {};
  int logical = 0;
  int rc = fstat(fd, &st);
  int err = errno;
  if (rc == 0 && S_ISBLK(st.st_mode)) {
    rc = ioctl(fd, BLKSSZGET, &logical);
    err = errno;
  }
  ::close(fd);
  if (rc != 0) throw std::runtime_error(what + "cannot read its geometry: " + std::strerror(err));
  if (!S_ISBLK(st.st_mode)) throw std::runtime_error(what + "not a block device (use file: for regular files)");
  if (logical < 512 || (logical & (logical - 1)))
    throw std::runtime_error(what + "unusable logical block size " + std::to_string(logical));
  auto backend = std::make_shared<FileBackend>(path, static_cast<std::uint32_t>(logical), true);
  if (!backend->direct()) throw std::runtime_error(what + "O_DIRECT I/O is refused");
  return backend;
}

}  // namespace nvmf::target
