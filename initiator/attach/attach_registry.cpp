#include "initiator/attach/attach_registry.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace nvmf::initiator::attach {

namespace {
std::string entry_path(const std::string& device) {
  std::string name = device.substr(device.rfind('/') + 1);
  return run_directory() + "/" + name + ".json";
}

bool make_dirs(const std::string& path) {
  std::string partial;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    if (mkdir(partial.c_str(), 0755) < 0 && errno != EEXIST) return false;
  }
  return true;
}
}  // namespace

std::string run_directory() {
  const char* env = std::getenv("NVMF_ATTACH_RUN_DIR");
  return env && *env ? env : "/run/nvmf/attach";
}

bool record(const AttachedDevice& d, std::string* error) {
  if (!make_dirs(run_directory())) {
    *error = "cannot create " + run_directory() + ": " + std::strerror(errno);
    return false;
  }
  nlohmann::ordered_json j = {{"device", d.device}, {"kind", d.kind}, {"dev_id", d.dev_id}, {"pid", d.pid},
                              {"transport", d.transport}, {"traddr", d.traddr}, {"trsvcid", d.trsvcid},
                              {"subnqn", d.subnqn}, {"nsid", d.nsid}};
  const std::string path = entry_path(d.device);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) < 0) {
    *error = "cannot rename " + tmp + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void forget(const std::string& device) { std::remove(entry_path(device).c_str()); }

std::vector<AttachedDevice> list_attached() {
  std::vector<AttachedDevice> out;
  DIR* dir = opendir(run_directory().c_str());
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    const std::string path = run_directory() + "/" + name;
    std::ifstream in(path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    AttachedDevice d;
    d.device = j.value("device", "");
    d.kind = j.value("kind", "ublk");
    d.dev_id = j.value("dev_id", 0u);
    d.pid = j.value("pid", 0);
    d.transport = j.value("transport", "");
    d.traddr = j.value("traddr", "");
    d.trsvcid = j.value("trsvcid", "");
    d.subnqn = j.value("subnqn", "");
    d.nsid = j.value("nsid", 0u);
    if (d.pid <= 0 || (kill(d.pid, 0) < 0 && errno == ESRCH)) {
      std::remove(path.c_str());  // its process is gone
      continue;
    }
    out.push_back(d);
  }
  closedir(dir);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.dev_id < b.dev_id; });
  return out;
}

std::optional<std::uint32_t> parse_ublk_device(const std::string& text) {
  std::string s = text;
  if (s.rfind("/dev/", 0) == 0) s = s.substr(5);
  if (s.rfind("ublkb", 0) == 0) s = s.substr(5);
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(s));
}

std::optional<std::uint32_t> parse_nbd_device(const std::string& text) {
  std::string s = text;
  if (s.rfind("/dev/", 0) == 0) s = s.substr(5);
  if (s.rfind("nbd", 0) != 0) return std::nullopt;
  s = s.substr(3);
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(s));
}

}  // namespace nvmf::initiator::attach
