#include "image_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace dbus_checkpoint::criu_plugin {
namespace {

constexpr mode_t kImageFileMode = 0600;

std::string image_file_name(std::uint32_t socket_inode, const char *suffix)
{
  return "dbus-checkpoint-" + std::to_string(socket_inode) + suffix;
}

} // namespace

std::string record_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".record"); }
std::string bus_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".bus"); }

Status write_image_file(int dir_fd, const std::string &name, std::string_view bytes)
{
  raw_bus::UniqueFd file(
      openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kImageFileMode));
  if (!file)
    return raw_bus::errno_failure("create " + name + " in the images directory");
  for (std::size_t written = 0; written < bytes.size();) {
    ssize_t n = write(file.get(), bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return raw_bus::errno_failure("write " + name);
    written += static_cast<std::size_t>(n);
  }
  if (std::error_code closed = file.close())
    return raw_bus::failure(closed.value(), "write " + name + ": " + closed.message());
  return {};
}

Status read_image_file(int dir_fd, const std::string &name, std::string &bytes_out)
{
  raw_bus::UniqueFd file(openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file)
    return raw_bus::errno_failure("open " + name + " in the images directory");
  bytes_out.clear();
  char chunk[65536];
  for (;;) {
    ssize_t n = read(file.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return raw_bus::errno_failure("read " + name);
    if (n == 0)
      return {};
    bytes_out.append(chunk, static_cast<std::size_t>(n));
  }
}

} // namespace dbus_checkpoint::criu_plugin
