// SPDX-License-Identifier: GPL-2.0-or-later
// freeze --in-place: stop the process tree that owns a frozen connection,
// and resume it again.
//
// The cgroup v2 freezer is used when the tree is exactly the set of
// processes in its own cgroup (and the cgroups below) and cgroup.freeze is
// writable: the kernel then stops it atomically, forks included, and no
// process sees a signal.  Otherwise each process of the tree gets SIGSTOP,
// parents first, rescanning until no new child appears; processes that were
// already stopped (by a debugger, by job control) are left out, so that
// resuming does not start what we did not stop.
#pragma once

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/result.hpp"
#include "cli/process_tree.hpp"

namespace dbus_checkpoint::cli {

enum class StopMethod { CgroupFreezer, Signals };

std::string to_string(StopMethod method);  // "cgroup", "signal"

// What was stopped, so that it (and only it) can be resumed.
struct StoppedTree {
  StopMethod method = StopMethod::Signals;
  pid_t owner = 0;
  std::filesystem::path cgroup_dir;  // CgroupFreezer only
  // Signals: the processes that got SIGSTOP.  CgroupFreezer: the processes
  // in the cgroup when it froze (for the report; the cgroup is what resumes).
  std::vector<ProcessId> processes;

  bool operator==(const StoppedTree &) const = default;
};

// Refuses pid 0 and 1 and a tree that holds this program itself.  On
// failure nothing stays stopped.
base::Result<StoppedTree> stop_process_tree(pid_t owner);

// SIGCONT to each stopped process still alive (pid and start time), or
// cgroup.freeze = 0.  Processes that are gone are skipped.
base::Result<void> resume_process_tree(const StoppedTree &stopped);

} // namespace dbus_checkpoint::cli
