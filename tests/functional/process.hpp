// Child processes for functional tests: run a command to completion with a timeout (output captured), or keep a
// `nvmf target` running until the test ends. Every child is killed when its owner goes away, so a failing test
// never leaves a process behind, and every wait has a deadline, so no test hangs.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace nvmf::test {

struct CommandResult {
  int exit_code = -1;  ///< -1: killed (timeout or signal)
  bool timed_out = false;
  std::string out;
  std::string err;
};

/// Run argv[0] with arguments, stdin from `input` (empty: /dev/null), for at most `timeout`.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::string& input = {});

/// A background process whose stdout/stderr go to a log file (shown by dump_log() on failure).
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  ~BackgroundProcess() { stop(); }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  /// Start; false with *error when exec fails.
  bool start(const std::vector<std::string>& argv, const std::string& log_path, std::string* error);
  bool running();
  /// SIGTERM, then SIGKILL after `grace`; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  std::string log() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  int status_ = 0;
};

/// Path of the nvmf executable under test: $NVMF_BIN (set by meson test).
std::string nvmf_binary();

/// A fresh temporary directory, removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace nvmf::test
