// SPDX-License-Identifier: GPL-2.0-or-later
// Running another program to completion (the CLI's criu, the tests'
// commands): its output captured, its time bounded, only fds 0-2 passed on,
// and never left behind (base::ChildProcess).  And the last lines of a log,
// for error messages.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/child_process.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace dbus_checkpoint::base {

struct ProgramCommand {
  std::vector<std::string> argv;                   // argv[0]: a path (see search_path)
  std::map<std::string, std::string> environment;  // set on top of ours
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  // setsid() before exec: the program leads a session of its own, without
  // a controlling terminal (what it creates does not join ours).
  bool new_session = false;
  // setpgid(0, 0) before exec; at the timeout its whole group is killed.
  bool own_process_group = false;
  bool search_path = false;      // argv[0] without a '/' is looked up in $PATH
  bool separate_stderr = false;  // stderr apart, into ProgramRun::errors
  // Not 0: the program runs in the mount, network, UTS and IPC namespaces
  // of this process (those that are not ours; setns(2) before exec), as
  // criu dumps a sandboxed unit's service from inside its sandbox.  Its
  // executable (argv[0], absolute) and `working_directory` are opened in
  // ours first: they need not be visible in the other mount namespace.
  pid_t namespaces_of = 0;
  // Not empty: the program's working directory (with namespaces_of, a
  // directory of our mount namespace that the program reaches as ".").
  std::filesystem::path working_directory{};
  // Not -1: passed to the program as its fd 3 (the one descriptor beyond
  // 0-2 it gets), e.g. the write end of a pipe for criu --status-fd 3.
  int status_fd = -1;
};

struct ProgramRun {
  int exit_status = -1;  // -1 unless it exited
  int term_signal = 0;   // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string output;    // stdout, and stderr as it wrote them unless separate_stderr
  std::string errors;    // stderr with separate_stderr

  bool succeeded() const { return exit_status == 0 && !timed_out; }
  // "exit status 1", "killed by signal 9 (Killed)", "timed out after 120 s".
  std::string describe_end(std::chrono::milliseconds timeout) const;
};

// The namespaces of `pid` that differ from ours, of the kinds namespaces_of
// enters ("mnt", "net", "uts", "ipc"); empty if it shares all of them (or
// is gone).
std::vector<std::string> namespaces_apart(pid_t pid);

// Runs the command to its end (or its timeout: then SIGKILL).  An error if
// it could not even be started, e.g. "cannot run /x/criu: No such file or
// directory".  It returns when the program ends, not when whatever it left
// running closes the output.
Result<ProgramRun> run_program(const ProgramCommand &command);

// Starts the command and returns at once: the running program, whose
// stdout and stderr go to `output_file` (made anew, mode 0600: a file,
// symlink or hard link of that name is removed first, O_EXCL|O_NOFOLLOW),
// stdin from /dev/null.  `timeout` and separate_stderr are not used: the
// caller waits for it (ChildProcess::wait_for), and it is killed when the
// ChildProcess goes unless the caller forget()s it.  An error if it could
// not be started.
Result<ChildProcess> start_program(const ProgramCommand &command,
                                   const std::filesystem::path &output_file);

// A pipe, both ends close-on-exec (a program is given an end through
// ProgramCommand::status_fd).
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};
Result<Pipe> make_pipe();

// The last `count` lines of `text`, each after `indent` and ending in a
// newline (a last line without one gets it).
std::string last_lines(std::string_view text, std::size_t count, std::string_view indent = "");

} // namespace dbus_checkpoint::base
