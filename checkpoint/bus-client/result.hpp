// SPDX-License-Identifier: GPL-2.0-or-later
// Result<T>: what the bus-client module (and the CLI's own modules) return
// instead of throwing: either a value or an Error saying what went wrong.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dbus_checkpoint::bus_client {

struct Error {
  // The D-Bus error name when the bus (or a peer) answered with an error,
  // e.g. "org.freedesktop.DBus.Error.InvalidArgs"; empty for local failures.
  std::string name;
  std::string message;

  // "NAME: message", or the message alone for a local failure.
  std::string describe() const { return name.empty() ? message : name + ": " + message; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T &value() & { return std::get<T>(state_); }
  const T &value() const & { return std::get<T>(state_); }
  T &&value() && { return std::get<T>(std::move(state_)); }
  const Error &error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error &error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

// Error for a failed system call or sd-bus function: "what: strerror".
Error errno_error(const std::string &what, int errno_value);

} // namespace dbus_checkpoint::bus_client
