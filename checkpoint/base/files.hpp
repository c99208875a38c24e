// SPDX-License-Identifier: GPL-2.0-or-later
// File helpers shared by the CLI and the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace dbus_checkpoint::base {

// What a checkpoint's images take: the bytes of the regular files directly
// in `dir`, logs (*.log: CRIU's dump.log, restore.log) left out.  0 for a
// directory that cannot be read.
std::uint64_t image_bytes(const std::filesystem::path &dir);

// All of `bytes` written to `fd` (short writes continued, EINTR retried);
// on failure the errno of write(2).
std::error_code write_all(int fd, std::string_view bytes) noexcept;

// `fd` read to its end (EINTR retried), but no further once more than
// `limit` bytes are in: the caller tells a file too large by
// bytes_out.size() > limit.  On failure the errno of read(2), and
// bytes_out untouched.
std::error_code read_at_most(int fd, std::size_t limit, std::string &bytes_out);

} // namespace dbus_checkpoint::base
