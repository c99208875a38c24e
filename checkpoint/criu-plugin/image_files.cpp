// SPDX-License-Identifier: GPL-2.0-or-later
#include "image_files.hpp"

#include "base/files.hpp"

#include <cerrno>
#include <limits>
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
std::string reattach_file_name(std::uint32_t socket_inode) { return image_file_name(socket_inode, ".reattach"); }

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
  if (std::error_code error = base::write_all(file.get(), bytes))
    return base::errno_error("write " + name, error.value());
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
  // No bound here: what is read is parsed (and bounded) as a record.
  constexpr std::size_t kWholeFile = std::numeric_limits<std::size_t>::max() - 1;
  if (std::error_code error = base::read_at_most(file.get(), kWholeFile, bytes_out))
    return base::errno_error("read " + name, error.value());
  return {};
}

} // namespace dbus_checkpoint::criu_plugin
