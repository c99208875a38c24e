// SPDX-License-Identifier: GPL-2.0-or-later
// Owners of a file descriptor and of a DIR stream: closed when they go.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <utility>

namespace dbus_checkpoint::base {

class UniqueFd {
public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
  UniqueFd &operator=(UniqueFd &&other) noexcept
  {
    reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept
  {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

  // For a file just written: close() is where some file systems (NFS)
  // report that the data did not make it.
  std::error_code close() noexcept
  {
    if (::close(release()) < 0)
      return {errno, std::generic_category()};
    return {};
  }

private:
  int fd_ = -1;
};

struct DirCloser {
  void operator()(DIR *dir) const noexcept { ::closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

} // namespace dbus_checkpoint::base
