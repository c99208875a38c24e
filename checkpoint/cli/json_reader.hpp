// Reading JSON back (the CLI's own dbus-checkpoint.json): a small
// RFC 8259 parser into a value tree.  Numbers are doubles, which hold the
// pids, sizes and milliseconds it stores exactly.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "bus-client/result.hpp"

namespace dbus_checkpoint::cli {

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  using Object = std::vector<std::pair<std::string, JsonValue>>;  // in file order

  JsonValue() = default;  // null
  template <typename T>
    requires(!std::same_as<std::decay_t<T>, JsonValue>)
  explicit JsonValue(T value) : value_(std::move(value)) {}

  bool is_null() const { return std::holds_alternative<std::nullptr_t>(value_); }
  // nullopt when the value is of another kind.
  std::optional<bool> boolean() const;
  std::optional<double> number() const;
  std::optional<std::int64_t> integer() const;  // a number without fraction
  const std::string *string() const;
  const Array *array() const;
  const Object *object() const;
  // An object's member, or null if this is no object or has no such key.
  const JsonValue *member(std::string_view key) const;

 private:
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> value_;
};

// One value and nothing but white space around it; the error says where
// ("at byte 17: expected ':'").
bus_client::Result<JsonValue> parse_json(std::string_view text);

} // namespace dbus_checkpoint::cli
