#include "target/json_cursor.hpp"

#include <algorithm>

namespace nvmf::target {

namespace {
/// RFC 6901: "~" and "/" in a member name are escaped.
std::string escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}
}  // namespace

JsonCursor JsonCursor::operator[](const std::string& key) const {
  return JsonCursor(value_->at(key), pointer_ + "/" + escape(key));
}

JsonCursor JsonCursor::operator[](std::size_t index) const {
  return JsonCursor(value_->at(index), pointer_ + "/" + std::to_string(index));
}

JsonCursor JsonCursor::required(const std::string& key) const {
  expect_object();
  if (!has(key)) throw ConfigError(pointer_ + "/" + escape(key), "", "missing");
  return (*this)[key];
}

std::string JsonCursor::shown() const { return value_->is_string() ? value_->get<std::string>() : value_->dump(); }

void JsonCursor::refuse(const std::string& reason) const { throw ConfigError(pointer_.empty() ? "/" : pointer_, shown(), reason); }

void JsonCursor::expect_object() const {
  if (!value_->is_object()) refuse("expected an object");
}

void JsonCursor::only_keys(std::initializer_list<const char*> known) const {
  expect_object();
  for (const auto& item : value_->items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture those in a lambda
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
      (*this)[key].refuse("unknown setting '" + key + "'");
  }
}

std::size_t JsonCursor::array_size() const {
  if (!value_->is_array()) refuse("expected an array");
  return value_->size();
}

std::string JsonCursor::string() const {
  if (!value_->is_string()) refuse("expected a string");
  return value_->get<std::string>();
}

bool JsonCursor::boolean() const {
  if (!value_->is_boolean()) refuse("expected true or false");
  return value_->get<bool>();
}

std::uint64_t JsonCursor::number(std::uint64_t min, std::uint64_t max) const {
  if (!value_->is_number_unsigned() && !(value_->is_number_integer() && value_->get<std::int64_t>() >= 0))
    refuse("expected a non-negative integer");
  const auto v = value_->get<std::uint64_t>();
  if (v < min || v > max) refuse("must be from " + std::to_string(min) + " to " + std::to_string(max));
  return v;
}

std::uint64_t JsonCursor::size() const {
  if (value_->is_number()) return number(0, ~0ULL);
  try {
    return parse_size(string());
  } catch (const ConfigError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    refuse(e.what());
  }
}

std::vector<std::string> JsonCursor::strings() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array_size(); ++i) out.push_back((*this)[i].string());
  return out;
}

}  // namespace nvmf::target
