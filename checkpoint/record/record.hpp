// SPDX-License-Identifier: GPL-2.0-or-later
// Encoding and decoding of a frozen-connection record (proto/frozen_connection.proto).
//
// Both directions validate: a record that decode() would refuse is never
// written, so what the daemon saves it can always read back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include "base/result.hpp"
#include "frozen_connection.pb.h"

namespace dbus_checkpoint::record {

using FrozenConnection = v1::FrozenConnection;

inline constexpr std::uint32_t kFormatVersion = 1;

// The serialized bytes of `record`.  Fails with EINVAL (and validate()'s
// sentence) if the record does not pass validate(), EFBIG if it would be
// longer than kMaxRecordBytes, ENOMEM (fatal).
base::Result<std::string> encode(const FrozenConnection &record) noexcept;

// Size check, parse and validate(): every field checked.  A bad record is
// an EINVAL error whose message is an English sentence saying what is
// wrong; out of memory is ENOMEM (fatal, no message).
base::Result<FrozenConnection> decode(std::string_view bytes) noexcept;

// This boot's /proc/sys/kernel/random/boot_id, or "" if it cannot be read.
std::string current_boot_id();

// Whether start-up restores `record`: frozen in this boot (or it does not
// say), or kept across a reboot on request.
bool restored_at_start_up(const FrozenConnection &record);

} // namespace dbus_checkpoint::record
