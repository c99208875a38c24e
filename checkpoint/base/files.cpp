// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/files.hpp"

#include <system_error>

namespace dbus_checkpoint::base {

std::uint64_t image_bytes(const std::filesystem::path &dir)
{
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto &entry : std::filesystem::directory_iterator(dir, error)) {
    if (!entry.is_regular_file(error) || entry.path().extension() == ".log")
      continue;
    if (const auto size = entry.file_size(error); !error)
      total += size;
  }
  return total;
}

} // namespace dbus_checkpoint::base
