// SPDX-License-Identifier: GPL-2.0-or-later
// A process in a mount and a network namespace of its own, as systemd
// leaves a sandboxed service, where a tmpfs covers `covered` (hiding what
// it holds in ours).  `before` runs in the child before it unshares (files
// opened there are from outside the sandbox), `inside` after the mount;
// each returns false on failure, which fails the constructor.  Killed and
// reaped at the end.  Header-only: tests of modules below the harness use
// it too.  Needs root.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include <boost/test/unit_test.hpp>

namespace dbus_checkpoint::test {

struct SandboxedProcess {
  pid_t pid = -1;
  SandboxedProcess(const std::filesystem::path &covered, const std::function<bool(int)> &before,
                   const std::function<bool()> &inside)
  {
    int ready[2];
    BOOST_REQUIRE(::pipe(ready) == 0);
    pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ready[0]);
      // `before` gets the fd to keep (it may close all others)
      const bool done = before(ready[1]) && ::unshare(CLONE_NEWNS | CLONE_NEWNET) == 0 &&
                        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                        ::mount("dcp-test", covered.c_str(), "tmpfs", 0, nullptr) == 0 && inside();
      const char answer = done ? 'x' : 'e';
      (void)!::write(ready[1], &answer, 1);
      ::close(ready[1]);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char answer = 0;
    BOOST_REQUIRE(::read(ready[0], &answer, 1) == 1);
    ::close(ready[0]);
    BOOST_REQUIRE_MESSAGE(answer == 'x', "opening files, unshare or mount in the test process failed");
  }
  SandboxedProcess(const SandboxedProcess &) = delete;
  SandboxedProcess &operator=(const SandboxedProcess &) = delete;
  ~SandboxedProcess()
  {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

} // namespace dbus_checkpoint::test
