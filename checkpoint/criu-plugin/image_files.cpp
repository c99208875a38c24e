// SPDX-License-Identifier: GPL-2.0-or-later
#include "image_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dbus_checkpoint::criu_plugin {
namespace {

constexpr mode_t kImageFileMode = 0600;

std::string image_file_name(std::uint32_t socket_inode, const char *suffix)
{
  return "dbus-checkpoint-" + std::to_string(socket_inode) + suffix;
}

} // namespace

Status check_images_dir(int dir_fd)
{
  struct stat status{};
  if (fstat(dir_fd, &status) < 0)
    return base::errno_error("stat the images directory");
  if (status.st_uid != 0 && status.st_uid != geteuid())
    return base::failure(EPERM, "the images directory is owned by uid " +
                                       std::to_string(status.st_uid) +
                                       ", neither root nor us: refusing to use it");
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return base::failure(EPERM, "the images directory is writable by group or others: "
                                   "refusing to use it");
  return {};
}

std::string record_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".record"); }
std::string bus_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".bus"); }
std::string journal_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".journal"); }

Status write_image_file(int dir_fd, const std::string &name, std::string_view bytes)
{
  if (Status s = check_images_dir(dir_fd); !s)
    return s;
  // Created anew: what is there (a stale file, or a planted symlink or hard
  // link) is removed, never written through.
  if (unlinkat(dir_fd, name.c_str(), 0) < 0 && errno != ENOENT)
    return base::errno_error("remove the old " + name + " from the images directory");
  raw_bus::UniqueFd file(openat(dir_fd, name.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                kImageFileMode));
  if (!file)
    return base::errno_error("create " + name + " in the images directory");
  for (std::size_t written = 0; written < bytes.size();) {
    ssize_t n = write(file.get(), bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return base::errno_error("write " + name);
    written += static_cast<std::size_t>(n);
  }
  if (std::error_code closed = file.close())
    return base::failure(closed.value(), "write " + name + ": " + closed.message());
  return {};
}

Status read_image_file(int dir_fd, const std::string &name, std::string &bytes_out)
{
  if (Status s = check_images_dir(dir_fd); !s)
    return s;
  raw_bus::UniqueFd file(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file)
    return base::errno_error("open " + name + " in the images directory");
  bytes_out.clear();
  char chunk[65536];
  for (;;) {
    ssize_t n = read(file.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return base::errno_error("read " + name);
    if (n == 0)
      return {};
    bytes_out.append(chunk, static_cast<std::size_t>(n));
  }
}

} // namespace dbus_checkpoint::criu_plugin
