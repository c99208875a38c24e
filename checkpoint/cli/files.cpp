// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace dbus_checkpoint::cli {

namespace fs = std::filesystem;
using base::Error;
using base::errno_error;
using base::Result;
using base::UniqueFd;

namespace {

// Creates `name` in dir_fd, never following or reusing what is there, and
// writes all of `bytes`.
Result<void> create_file_at(int dir_fd, const std::string &name, const fs::path &shown,
                            std::string_view bytes, mode_t mode)
{
  UniqueFd fd(::openat(dir_fd, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd || ::fchmod(fd.get(), mode) < 0)
    return errno_error("cannot create " + shown.string(), errno);
  while (!bytes.empty()) {
    ssize_t written = ::write(fd.get(), bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR)
      continue;
    if (written < 0)
      return errno_error("cannot write " + shown.string(), errno);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  if (std::error_code closed = fd.close())
    return errno_error("cannot write " + shown.string(), closed.value());
  return {};
}

} // namespace

Result<void> replace_file(const fs::path &path, std::string_view bytes, mode_t mode)
{
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  UniqueFd dir_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd)
    return errno_error("cannot open " + parent.string(), errno);
  const std::string name = path.filename().string();
  const std::string temporary = name + ".tmp";
  fs::path shown = path;
  shown += ".tmp";
  // a stale one (an interrupted run, or planted): removed, not reused
  if (::unlinkat(dir_fd.get(), temporary.c_str(), 0) < 0 && errno != ENOENT)
    return errno_error("cannot remove " + shown.string(), errno);
  if (auto written = create_file_at(dir_fd.get(), temporary, shown, bytes, mode); !written) {
    ::unlinkat(dir_fd.get(), temporary.c_str(), 0);
    return written;
  }
  if (::renameat(dir_fd.get(), temporary.c_str(), dir_fd.get(), name.c_str()) < 0) {
    int error = errno;
    ::unlinkat(dir_fd.get(), temporary.c_str(), 0);
    return errno_error("cannot write " + path.string(), error);
  }
  return {};
}

Result<std::string> read_whole_file(const fs::path &path)
{
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
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

Result<void> check_trusted_directory(const fs::path &dir, bool create)
{
  std::error_code error;
  if (create && !fs::exists(fs::symlink_status(dir, error))) {
    if (dir.has_parent_path())
      fs::create_directories(dir.parent_path(), error);
    if (error)
      return Error{"", "cannot create " + dir.parent_path().string() + ": " + error.message()};
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
      return errno_error("cannot create " + dir.string(), errno);
  }
  const std::string advice = ": give a directory owned by root, mode 0700, or a new path";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && (errno == ELOOP || errno == ENOTDIR)) {
    struct stat link{};
    if (::lstat(dir.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
      return Error{"", dir.string() + " is a symbolic link" + advice};
    return Error{"", dir.string() + " is not a directory"};
  }
  if (!fd)
    return errno_error("cannot open " + dir.string(), errno);
  struct stat status{};
  if (::fstat(fd.get(), &status) < 0)
    return errno_error("cannot stat " + dir.string(), errno);
  if (status.st_uid != 0 && status.st_uid != ::geteuid())
    return Error{"", dir.string() + " is owned by uid " + std::to_string(status.st_uid) + advice};
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return Error{"", dir.string() + " is writable by group or others (mode " + mode + ")" +
                         advice};
  }
  return {};
}

Result<DirectoryLock> DirectoryLock::take(const fs::path &dir, const std::string &holder_hint)
{
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return errno_error("cannot open " + dir.string(), errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK)
      return base::Error{"", dir.string() + " is in use: " + holder_hint};
    return errno_error("cannot lock " + dir.string(), errno);
  }
  return DirectoryLock(std::move(fd));
}

} // namespace dbus_checkpoint::cli
