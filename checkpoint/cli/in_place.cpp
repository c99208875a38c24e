// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/in_place.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>

#include "cli/cgroup_freezer.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

constexpr auto kStopTimeout = std::chrono::seconds(5);
constexpr int kMaxScans = 16;  // rescans for children forked while stopping

bool is_stopped_or_dead(char state)
{
  return state == 'T' || state == 't' || state == 'Z' || state == 'X';
}

std::set<pid_t> pids_of(const std::vector<ProcessInfo> &tree)
{
  std::set<pid_t> pids;
  for (const ProcessInfo &process : tree)
    pids.insert(process.id.pid);
  return pids;
}

std::vector<ProcessId> ids_of(const std::vector<ProcessInfo> &tree)
{
  std::vector<ProcessId> ids;
  for (const ProcessInfo &process : tree)
    ids.push_back(process.id);
  return ids;
}

// The tree's own cgroup, if the freezer can stop exactly this tree.
std::optional<fs::path> freezable_cgroup(pid_t owner, const std::vector<ProcessInfo> &tree)
{
  auto dir = own_cgroup_dir(owner);
  if (!dir || !cgroup_freeze_is_writable(*dir) || cgroup_pids(*dir) != pids_of(tree))
    return std::nullopt;
  return dir;
}

void send_sigcont(const std::vector<ProcessId> &processes)
{
  for (auto process = processes.rbegin(); process != processes.rend(); ++process)
    if (is_alive(*process))
      ::kill(process->pid, SIGCONT);
}

Result<StoppedTree> stop_with_cgroup(pid_t owner, const fs::path &cgroup_dir,
                                     const std::vector<ProcessInfo> &tree)
{
  if (cgroup_is_frozen(cgroup_dir))
    return Error{"", "cgroup " + cgroup_dir.string() + " is already frozen by someone else"};
  if (auto frozen = freeze_cgroup(cgroup_dir, kStopTimeout); !frozen)
    return frozen.error();
  return StoppedTree{StopMethod::CgroupFreezer, owner, cgroup_dir, ids_of(tree)};
}

Result<StoppedTree> stop_with_signals(pid_t owner)
{
  StoppedTree stopped{StopMethod::Signals, owner, {}, {}};
  std::set<pid_t> seen;
  for (int scan = 0; scan < kMaxScans; ++scan) {
    auto tree = process_tree(owner);
    if (!tree)
      break;  // the owner is gone
    bool found_new = false;
    for (const ProcessInfo &process : tree.value()) {
      if (!seen.insert(process.id.pid).second)
        continue;
      found_new = true;
      if (is_stopped_or_dead(process.state))
        continue;
      if (::kill(process.id.pid, SIGSTOP) == 0) {
        stopped.processes.push_back(process.id);
      } else if (errno != ESRCH) {
        Error error = base::errno_error("cannot stop pid " +
                                              std::to_string(process.id.pid), errno);
        send_sigcont(stopped.processes);
        return error;
      }
    }
    if (!found_new)
      break;
  }
  if (!wait_until_stopped(stopped.processes, kStopTimeout)) {
    send_sigcont(stopped.processes);
    return Error{"", "the process tree of pid " + std::to_string(owner) +
                         " did not stop within 5 s"};
  }
  return stopped;
}

} // namespace

std::string to_string(StopMethod method)
{
  return method == StopMethod::CgroupFreezer ? "cgroup" : "signal";
}

Result<StoppedTree> stop_process_tree(pid_t owner)
{
  if (owner <= 1)
    return Error{"", "refusing to stop pid " + std::to_string(owner)};
  auto tree = process_tree(owner);
  if (!tree)
    return tree.error();
  if (pids_of(tree.value()).contains(::getpid()))
    return Error{"", "refusing to stop pid " + std::to_string(owner) +
                         ": dbus-checkpoint itself is in its process tree"};
  if (auto cgroup_dir = freezable_cgroup(owner, tree.value()))
    return stop_with_cgroup(owner, *cgroup_dir, tree.value());
  return stop_with_signals(owner);
}

Result<void> resume_process_tree(const StoppedTree &stopped)
{
  if (stopped.method == StopMethod::Signals) {
    send_sigcont(stopped.processes);
    return {};
  }
  std::error_code error;
  if (!fs::exists(stopped.cgroup_dir, error))
    return {};  // the cgroup (and so its processes) is gone
  return unfreeze_cgroup(stopped.cgroup_dir);
}

} // namespace dbus_checkpoint::cli
