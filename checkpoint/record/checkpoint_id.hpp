// SPDX-License-Identifier: GPL-2.0-or-later
// Checkpoint ids: 128 random bits, written as 32 lowercase hex digits.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace dbus_checkpoint::record {

inline constexpr std::size_t kCheckpointIdLength = 32;

// A fresh id from the kernel's random source (getrandom). Fails only if the
// kernel refuses, with its errno.
std::error_code new_checkpoint_id(std::string &id_out);

// True if `id` has the form new_checkpoint_id() produces.
bool is_valid_checkpoint_id(std::string_view id) noexcept;

} // namespace dbus_checkpoint::record
