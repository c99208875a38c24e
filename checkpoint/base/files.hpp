// SPDX-License-Identifier: GPL-2.0-or-later
// File helpers shared by the CLI and the tests.
#pragma once

#include <cstdint>
#include <filesystem>

namespace dbus_checkpoint::base {

// What a checkpoint's images take: the bytes of the regular files directly
// in `dir`, logs (*.log: CRIU's dump.log, restore.log) left out.  0 for a
// directory that cannot be read.
std::uint64_t image_bytes(const std::filesystem::path &dir);

} // namespace dbus_checkpoint::base
