// SPDX-License-Identifier: GPL-2.0-or-later
// Checkpoint ids: 128 random bits, written as 32 lowercase hex digits.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dbus_checkpoint::record {

inline constexpr std::size_t kCheckpointIdLength = 32;

// A fresh id from the kernel's random source (getrandom). Fails only if the
// kernel refuses, with its errno.
base::Result<std::string> new_checkpoint_id();

// True if `id` has the form new_checkpoint_id() produces.
bool is_valid_checkpoint_id(std::string_view id) noexcept;

} // namespace dbus_checkpoint::record
