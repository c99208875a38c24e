// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

std::error_code write_all(int fd, std::string_view bytes) noexcept
{
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return {errno, std::generic_category()};
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code read_at_most(int fd, std::size_t limit, std::string &bytes_out)
{
  // Read into a buffer of our own and keep only what came: a small file
  // costs a small string (growing the string by 64 KiB per read zeroed
  // and faulted in 64 KiB for each record of a few hundred bytes).
  char chunk[65536];
  std::string bytes;
  while (bytes.size() <= limit) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return {errno, std::generic_category()};
    }
    bytes.append(chunk, static_cast<std::size_t>(n));
  }
  bytes_out = std::move(bytes);
  return {};
}

} // namespace dbus_checkpoint::base
