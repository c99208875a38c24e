// SPDX-License-Identifier: GPL-2.0-or-later
// Running programs from tests: capture output, bound the time, never leak
// a child.  Test-only code: failures to even start a program throw.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/child_process.hpp"

namespace dcp::test {

struct CommandResult {
  int exit_status = -1;   // WEXITSTATUS, or -1 if killed by a signal
  int term_signal = 0;    // signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_status == 0 && !timed_out; }
  std::string describe() const;  // for assertion messages
};

// Run argv[0] (looked up in PATH) to completion with base::run_program
// (stdout and stderr apart).  Extra environment variables are added to the
// current environment.  A program that cannot be started ends with exit
// status 127 and the reason on err, as in a shell.
CommandResult run_command(const std::vector<std::string> &argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::map<std::string, std::string> &extra_env = {});

// A child process that keeps running until stopped or destroyed.  Its
// stdout and stderr go to `log_path`.  The destructor sends SIGTERM, waits
// briefly, then SIGKILL: no test leaves a process behind.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string> &argv, const std::string &log_path,
               bool new_session = false);
  ChildProcess(ChildProcess &&other) noexcept;
  ChildProcess &operator=(ChildProcess &&other) noexcept;
  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;
  ~ChildProcess();

  pid_t pid() const { return child_.pid(); }
  bool running();
  // SIGTERM then, after `grace`, SIGKILL; returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  int kill_hard();  // SIGKILL at once; returns the wait status

 private:
  int reap(std::chrono::milliseconds timeout);
  dbus_checkpoint::base::ChildProcess child_;
};

// Wait until `predicate` is true, polling every `interval` (5 ms: a timed
// wait, a start-up measured, wants less); false on timeout.
template <typename Predicate>
bool wait_until(Predicate predicate, std::chrono::milliseconds timeout,
                std::chrono::microseconds interval = std::chrono::milliseconds(5))
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const struct timespec pause{static_cast<time_t>(interval.count() / 1'000'000),
                              static_cast<long>(interval.count() % 1'000'000) * 1000};
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    nanosleep(&pause, nullptr);
  }
  return true;
}

std::string read_file(const std::string &path);

} // namespace dcp::test
