// A sparse temporary file of a given size, removed on destruction.
#pragma once
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace nvmf::test {

class TempFile {
 public:
  explicit TempFile(std::uint64_t size, const std::string& dir = "/tmp") {
    std::string tmpl = dir + "/nvmf-target-test-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("ftruncate failed");
    ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nvmf::test
