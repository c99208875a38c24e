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
  constexpr std::size_t kChunk = 65536;
  std::string bytes;
  while (bytes.size() <= limit) {
    const std::size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const ssize_t n = ::read(fd, bytes.data() + old_size, kChunk);
    const int saved = errno;
    bytes.resize(old_size + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0)
      break;
    if (n < 0 && saved != EINTR)
      return {saved, std::generic_category()};
  }
  bytes_out = std::move(bytes);
  return {};
}

} // namespace dbus_checkpoint::base
