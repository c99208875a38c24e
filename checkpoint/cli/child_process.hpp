// SPDX-License-Identifier: GPL-2.0-or-later
// Running another program (criu) to completion: its output captured, its
// time bounded, and never left behind (base::ChildProcess).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

struct ProgramCommand {
  std::vector<std::string> argv;                   // argv[0]: a path, not looked up
  std::map<std::string, std::string> environment;  // set on top of ours
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  // setsid() before exec: the program leads a session of its own, without
  // a controlling terminal (what it creates does not join ours).
  bool new_session = false;
};

struct ProgramRun {
  int exit_status = -1;  // -1 unless it exited
  int term_signal = 0;   // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string output;    // stdout and stderr as it wrote them

  bool succeeded() const { return exit_status == 0 && !timed_out; }
  // "exit status 1", "killed by signal 9 (Killed)", "timed out after 120 s".
  std::string describe_end(std::chrono::milliseconds timeout) const;
};

// Runs the command to its end (or its timeout: then SIGKILL).  An error if
// it could not even be started, e.g. "cannot run /x/criu: No such file or
// directory".
base::Result<ProgramRun> run_program(const ProgramCommand &command);


} // namespace dbus_checkpoint::cli
