// A JSON value together with its JSON pointer ("/subsystems/0/namespaces/1/device/path"), so every refusal
// while reading a configuration names exactly where the bad value sits. Readers check types and throw
// ConfigError(pointer, value, reason).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "target/config.hpp"

namespace nvmf::target {

class JsonCursor {
 public:
  JsonCursor(const nlohmann::json& value, std::string pointer) : value_(&value), pointer_(std::move(pointer)) {}

  const std::string& pointer() const { return pointer_; }
  const nlohmann::json& json() const { return *value_; }
  bool has(const std::string& key) const { return value_->is_object() && value_->contains(key); }
  JsonCursor operator[](const std::string& key) const;
  JsonCursor operator[](std::size_t index) const;
  /// The member `key` of an object, refusing a missing one.
  JsonCursor required(const std::string& key) const;

  [[noreturn]] void refuse(const std::string& reason) const;
  void expect_object() const;
  /// Refuses any member not in `known` (a typo must not be silently ignored).
  void only_keys(std::initializer_list<const char*> known) const;
  std::size_t array_size() const;

  std::string string() const;
  bool boolean() const;
  /// An unsigned integer within [min, max].
  std::uint64_t number(std::uint64_t min, std::uint64_t max) const;
  /// A byte count: a number or a string such as "64K", "1G".
  std::uint64_t size() const;
  std::vector<std::string> strings() const;

 private:
  std::string shown() const;

  const nlohmann::json* value_;
  std::string pointer_;
};

}  // namespace nvmf::target
