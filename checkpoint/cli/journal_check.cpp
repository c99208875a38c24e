// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/journal_check.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "base/unique_fd.hpp"
#include "cli/files.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

// The plugin's image file of a datagram socket (journal_stream.cpp).
constexpr std::string_view kDatagramLine = "DATAGRAM=";

// 0, or the errno of connecting a socket of `type` to `path`.
int connect_error(const std::string &path, int type)
{
  struct sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path)
    return ENAMETOOLONG;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  base::UniqueFd socket(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!socket)
    return errno;
  while (::connect(socket.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) < 0)
    if (errno != EINTR)
      return errno;
  return 0;
}

} // namespace

Result<void> check_journald_answers(const fs::path &images_dir)
{
  std::set<std::pair<std::string, int>> needed;  // path, socket type
  std::error_code error;
  for (const fs::directory_entry &entry : fs::directory_iterator(images_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("dbus-checkpoint-") || !name.ends_with(".journal"))
      continue;
    auto text = read_whole_file(entry.path());
    if (!text)
      return text.error();
    if (text.value().starts_with(kDatagramLine)) {
      std::string path = text.value().substr(kDatagramLine.size());
      while (!path.empty() && path.back() == '\n')
        path.pop_back();
      needed.insert({path, SOCK_DGRAM});
    } else {
      needed.insert({kJournalStdoutSocket, SOCK_STREAM});
    }
  }
  for (const auto &[path, type] : needed)
    if (int failed = connect_error(path, type); failed != 0)
      return Error{"", "the checkpointed service logged to the journal (" +
                           std::string(type == SOCK_STREAM ? "its stdout/stderr" : "syslog") +
                           "), but " + path + " does not answer: " + std::strerror(failed) +
                           ": systemd-journald is not running here; start it (systemctl start "
                           "systemd-journald) and restore again; nothing was restored, the "
                           "images in " + images_dir.string() + " are kept"};
  return {};
}

} // namespace dbus_checkpoint::cli
