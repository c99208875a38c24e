// SPDX-License-Identifier: GPL-2.0-or-later
// The one result type at every module's edge (the library, the CRIU plugin,
// the CLI, the test harness): Result<T> is a T or an Error, Status a
// Result<void>.  Nothing here throws on its own; value() of a failed result
// is a bug (std::bad_variant_access).
//
// An Error says what kind of failure it is, as dbus-broker tells API errors
// from fatal ones:
//  - Api: the request was refused and the caller reports it and goes on:
//    the bus or a peer answered with a D-Bus error, the input is bad, a
//    system call failed for a reason of the outside world (no such file, a
//    socket refused, permission denied).
//  - Fatal: this process cannot be trusted to go on with what it was doing:
//    out of memory, a broken invariant of our own.
// Header-only: the CRIU probe, which cmake compiles alone at configure
// time, uses it too.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace dbus_checkpoint::base {

enum class ErrorKind { Api, Fatal };

struct Error {
  // The D-Bus error name when the bus (or a peer) answered with an error,
  // e.g. "org.freedesktop.DBus.Error.InvalidArgs"; empty for local failures.
  std::string name;
  std::string message;
  // The errno behind it (a system call's, sd-bus's), 0 if none.
  int errno_value = 0;
  ErrorKind kind = ErrorKind::Api;

  bool fatal() const noexcept { return kind == ErrorKind::Fatal; }
  // "NAME: message", or the message alone for a local failure.
  std::string describe() const { return name.empty() ? message : name + ": " + message; }
  // What a C caller returns (the CRIU plugin's hooks): -errno, -EIO if
  // there is none.
  int negative_errno() const noexcept { return -(errno_value > 0 ? errno_value : EIO); }
};

// An error with that errno (0: none) and message; ENOMEM makes it fatal.
inline Error failure(int errno_value, std::string message)
{
  return Error{"", std::move(message), errno_value,
               errno_value == ENOMEM ? ErrorKind::Fatal : ErrorKind::Api};
}

// For a failed system call or sd-bus function: "what: strerror".
inline Error errno_error(const std::string &what, int errno_value)
{
  return failure(errno_value, what + ": " + std::strerror(errno_value));
}

// For a system call that just failed: errno (read first) and
// "what: strerror(errno)".
inline Error errno_error(const std::string &what)
{
  const int saved = errno;
  return errno_error(what, saved);
}

// The bus or a peer said no: its D-Bus error name and message.
inline Error bus_error(std::string name, std::string message)
{
  return Error{std::move(name), std::move(message), 0, ErrorKind::Api};
}

// A broken invariant of ours (a bug, not the caller's input).
inline Error fatal_error(std::string message)
{
  return Error{"", std::move(message), 0, ErrorKind::Fatal};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const noexcept { return std::holds_alternative<T>(state_); }
  explicit operator bool() const noexcept { return ok(); }

  T &value() & { return std::get<T>(state_); }
  const T &value() const & { return std::get<T>(state_); }
  T &&value() && { return std::get<T>(std::move(state_)); }
  const Error &error() const & { return std::get<Error>(state_); }
  Error &&error() && { return std::get<Error>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error &error() const & { return error_; }
  Error &&error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

// A result with no value: success, or what went wrong.
using Status = Result<void>;

// A std::error_code (what the standard library and UniqueFd::close() give)
// as a Status: its errno and its message.
inline Status status_of(std::error_code code)
{
  if (!code)
    return {};
  return failure(code.value(), code.message());
}

} // namespace dbus_checkpoint::base
