// SPDX-License-Identifier: GPL-2.0-or-later
// Encoding and decoding of a frozen-connection record (proto/frozen_connection.proto).
//
// Both directions validate: a record that decode() would refuse is never
// written, so what the daemon saves it can always read back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "frozen_connection.pb.h"

namespace dbus_checkpoint::record {

using FrozenConnection = v1::FrozenConnection;

inline constexpr std::uint32_t kFormatVersion = 1;

// What decode() made of some bytes: a valid record, or why not.
struct Decoded {
  FrozenConnection record;   // meaningful only without error
  std::error_code error;     // invalid_argument: bad record; not_enough_memory
  std::string message;       // English sentence saying what is wrong

  explicit operator bool() const noexcept { return !error; }

  static Decoded failure(std::errc error, std::string message) noexcept
  {
    Decoded decoded;
    decoded.error = std::make_error_code(error);
    decoded.message = std::move(message);
    return decoded;
  }
};

// The serialized bytes of `record`.  Fails with invalid_argument if the
// record does not pass validate(), file_too_large if it would be longer than
// kMaxRecordBytes, not_enough_memory.
std::error_code encode(const FrozenConnection &record, std::string &bytes_out) noexcept;

// Size check, parse and validate(): every field checked.
Decoded decode(std::string_view bytes) noexcept;

} // namespace dbus_checkpoint::record
