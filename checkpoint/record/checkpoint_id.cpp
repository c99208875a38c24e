// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/checkpoint_id.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <sys/random.h>

namespace dbus_checkpoint::record {

base::Result<std::string> new_checkpoint_id()
{
  std::array<std::uint8_t, kCheckpointIdLength / 2> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    ssize_t n = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return base::errno_error("getrandom");
    }
    filled += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(kCheckpointIdLength);
  for (std::uint8_t b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

bool is_valid_checkpoint_id(std::string_view id) noexcept
{
  if (id.size() != kCheckpointIdLength)
    return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace dbus_checkpoint::record
