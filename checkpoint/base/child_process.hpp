// SPDX-License-Identifier: GPL-2.0-or-later
// A child process this program started, waited for through a pidfd (poll
// wakes the moment it ends, no polling loop) and never left behind: it is
// SIGKILLed and reaped when its owner goes before it ended.
//
// Header-only: the CRIU probe, which cmake compiles alone at configure
// time, uses it too.
#pragma once

#include <poll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <utility>

#include "base/unique_fd.hpp"

namespace dbus_checkpoint::base {

// pidfd_open(2); -1 with errno set.  (glibc 2.36's <sys/pidfd.h> lacks
// extern "C": the system call itself.)
inline int open_pidfd(pid_t pid) noexcept
{
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

class ChildProcess {
 public:
  ChildProcess() = default;
  // `pid` is our child, not reaped yet.  With `kill_group` it leads a
  // process group of its own, which kill_and_reap() kills with it.
  explicit ChildProcess(pid_t pid, bool kill_group = false)
      : pid_(pid), kill_group_(kill_group), pidfd_(open_pidfd(pid))
  {
  }
  ChildProcess(ChildProcess &&other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        kill_group_(other.kill_group_),
        pidfd_(std::move(other.pidfd_))
  {
  }
  ChildProcess &operator=(ChildProcess &&other) noexcept
  {
    if (this != &other) {
      kill_and_reap();
      pid_ = std::exchange(other.pid_, -1);
      kill_group_ = other.kill_group_;
      pidfd_ = std::move(other.pidfd_);
    }
    return *this;
  }
  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;
  ~ChildProcess() { kill_and_reap(); }

  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  // Readable (POLLIN) once the process has ended, for a caller's own poll;
  // -1 if the kernel has no pidfds (before Linux 5.3).
  int pidfd() const noexcept { return pidfd_.get(); }

  // Waits up to `limit` for its end and reaps it: its wait status, or
  // nullopt if it still runs (it stays ours then).
  std::optional<int> wait_for(std::chrono::milliseconds limit)
  {
    if (pid_ <= 0)
      return std::nullopt;
    if (pidfd_) {
      pollfd entry{pidfd_.get(), POLLIN, 0};
      const auto deadline = std::chrono::steady_clock::now() + limit;
      for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        const int ready = ::poll(&entry, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
        if (ready > 0)
          break;
        if (ready == 0 || errno != EINTR)
          return reap(WNOHANG);
      }
      return reap(0);
    }
    // No pidfd: look every 5 ms.
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto status = reap(WNOHANG))
        return status;
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      ::usleep(5'000);
    }
  }

  // Its wait status if it has ended (reaped then), nullopt while it runs.
  std::optional<int> try_reap() { return reap(WNOHANG); }

  // Someone else reaped it: nothing left to do.
  void forget() noexcept
  {
    pid_ = -1;
    pidfd_.reset();
  }

  // SIGKILL (to its group too with kill_group) and reap; its wait status,
  // -1 if there was nothing to kill.
  int kill_and_reap() noexcept
  {
    if (pid_ <= 0)
      return -1;
    if (kill_group_)
      ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    return reap(0).value_or(-1);
  }

 private:
  // waitpid with `flags`; ECHILD (reaped by someone else) counts as ended
  // with status 0.
  std::optional<int> reap(int flags) noexcept
  {
    if (pid_ <= 0)
      return std::nullopt;
    int status = 0;
    pid_t got;
    do
      got = ::waitpid(pid_, &status, flags);
    while (got < 0 && errno == EINTR);
    if (got == 0)
      return std::nullopt;
    forget();
    return got > 0 ? status : 0;
  }

  pid_t pid_ = -1;
  bool kill_group_ = false;
  UniqueFd pidfd_;
};

} // namespace dbus_checkpoint::base
