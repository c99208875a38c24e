// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/mediation.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace dbus_checkpoint::record {

namespace {

std::string_view without_trailing_nuls(std::string_view label)
{
  while (!label.empty() && label.back() == '\0')
    label.remove_suffix(1);
  return label;
}

} // namespace

base::Result<std::string> socket_peer_label(int fd) noexcept
{
  try
    {
      std::vector<char> buffer(256);
      for (;;)
        {
          socklen_t length = static_cast<socklen_t>(buffer.size());
          if (getsockopt(fd, SOL_SOCKET, SO_PEERSEC, buffer.data(), &length) == 0)
            return std::string(without_trailing_nuls(std::string_view(buffer.data(), length)));
          // No LSM that labels sockets: there is no label to mediate by.
          if (errno == ENOPROTOOPT)
            return std::string();
          // Linux says how much it needs; a label is a few hundred bytes.
          if (errno == ERANGE && length > buffer.size() && length <= 64 * 1024)
            {
              buffer.resize(length);
              continue;
            }
          return base::errno_error("Cannot read the security label of the bus's end of the "
                                   "adopted connection (SO_PEERSEC)");
        }
    }
  catch (const std::bad_alloc &)
    {
      return base::failure(ENOMEM, "Out of memory");
    }
}

std::string adoption_label_problem(std::string_view recorded_label, std::string_view mediated_as)
{
  recorded_label = without_trailing_nuls(recorded_label);
  mediated_as = without_trailing_nuls(mediated_as);
  if (recorded_label == mediated_as)
    return {};
  auto shown = [](std::string_view label) {
    return label.empty() ? std::string("none") : "\"" + std::string(label) + "\"";
  };
  return "this bus mediates its clients with an LSM and would mediate the restored "
         "connection as the bus's own security label " +
         shown(mediated_as) + ", not as the label it was frozen with, " +
         shown(recorded_label) +
         " (only a connection frozen with the bus's own label can be restored on a bus "
         "that mediates)";
}

} // namespace dbus_checkpoint::record
