#include "target/reservation_persistence.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace nvmf::target {

namespace {
constexpr int kVersion = 1;

std::string hex(const std::array<std::uint8_t, 16>& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

bool parse_hex(const std::string& s, std::array<std::uint8_t, 16>* out) {
  if (s.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    for (char c : s.substr(2 * i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else return false;
    }
    (*out)[i] = static_cast<std::uint8_t>(v);
  }
  return true;
}

[[noreturn]] void refuse(const std::string& path, const std::string& field, const std::string& why) {
  throw std::runtime_error(path + ": " + (field.empty() ? "" : field + ": ") + why);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

bool load_persisted_reservations(const std::string& path, PersistedReservations* out) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return false;
    refuse(path, "", std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    refuse(path, "", std::string("not JSON: ") + e.what());
  }
  PersistedReservations s;
  try {
    if (j.at("version").get<int>() != kVersion) refuse(path, "/version", "unknown version");
    const int type = j.at("type").get<int>();
    if (type < 0 || type > 6) refuse(path, "/type", "not a reservation type (0-6)");
    s.type = static_cast<std::uint8_t>(type);
    if (!parse_hex(j.at("holder").get<std::string>(), &s.holder)) refuse(path, "/holder", "not 32 hex digits");
    s.generation = j.at("generation").get<std::uint32_t>();
    std::size_t i = 0;
    for (const auto& r : j.at("registrants")) {
      PersistedReservations::Registrant reg;
      if (!parse_hex(r.at("host").get<std::string>(), &reg.host))
        refuse(path, "/registrants/" + std::to_string(i) + "/host", "not 32 hex digits");
      reg.key = r.at("key").get<std::uint64_t>();
      s.registrants.push_back(reg);
      ++i;
    }
  } catch (const nlohmann::json::exception& e) {
    refuse(path, "", std::string("missing or wrong field: ") + e.what());
  }
  *out = std::move(s);
  return true;
}

bool save_persisted_reservations(const std::string& path, const PersistedReservations& state, std::string* error) {
  nlohmann::ordered_json j = {{"version", kVersion},
                              {"type", state.type},
                              {"holder", hex(state.holder)},
                              {"generation", state.generation},
                              {"registrants", nlohmann::json::array()}};
  for (const auto& r : state.registrants) j["registrants"].push_back({{"host", hex(r.host)}, {"key", r.key}});
  const std::string text = j.dump(1) + "\n";
  const std::string temp = path + ".tmp";
  auto fail = [&](const char* step) {
    *error = std::string(step) + " " + temp + ": " + std::strerror(errno);
    return false;
  };
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot sync");
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("cannot rename");
  // The rename is durable once the directory is.
  int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return fail("cannot open the directory of");
  const int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) return fail("cannot sync the directory of");
  return true;
}

bool remove_persisted_reservations(const std::string& path, std::string* error) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    *error = "cannot remove " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace nvmf::target
