#include "cli/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

namespace dbus_checkpoint::cli {

namespace fs = std::filesystem;
using bus_client::errno_error;
using bus_client::Result;
using record::UniqueFd;

Result<void> write_file(const fs::path &path, std::string_view bytes, mode_t mode)
{
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd || ::fchmod(fd.get(), mode) < 0)
    return errno_error("cannot create " + path.string(), errno);
  while (!bytes.empty()) {
    ssize_t written = ::write(fd.get(), bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR)
      continue;
    if (written < 0)
      return errno_error("cannot write " + path.string(), errno);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  if (std::error_code closed = fd.close())
    return errno_error("cannot write " + path.string(), closed.value());
  return {};
}

Result<void> replace_file(const fs::path &path, std::string_view bytes, mode_t mode)
{
  fs::path temporary = path;
  temporary += ".tmp";
  if (auto written = write_file(temporary, bytes, mode); !written) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return written;
  }
  if (::rename(temporary.c_str(), path.c_str()) < 0) {
    int error = errno;
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return errno_error("cannot write " + path.string(), error);
  }
  return {};
}

Result<std::string> read_whole_file(const fs::path &path)
{
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return errno_error("cannot read " + path.string(), errno);
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return errno_error("cannot read " + path.string(), errno);
    if (got == 0)
      return text;
    text.append(buffer, static_cast<std::size_t>(got));
  }
}

std::uint64_t directory_bytes(const fs::path &dir)
{
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(dir, error))
    if (entry.is_regular_file(error))
      total += entry.file_size(error);
  return total;
}

Result<DirectoryLock> DirectoryLock::take(const fs::path &dir, const std::string &holder_hint)
{
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return errno_error("cannot open " + dir.string(), errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK)
      return bus_client::Error{"", dir.string() + " is in use: " + holder_hint};
    return errno_error("cannot lock " + dir.string(), errno);
  }
  return DirectoryLock(std::move(fd));
}

} // namespace dbus_checkpoint::cli
