// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/dump_checks.hpp"

#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <filesystem>
#include <sstream>

#include "cli/files.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::Error;
using bus_client::Result;

constexpr int kCapSysResource = 24;  // linux/capability.h

// The numbers after "KEY:" on their line of /proc/PID/status.
std::vector<std::uint32_t> status_numbers(const std::string &status_text, const std::string &key)
{
  std::vector<std::uint32_t> numbers;
  std::istringstream lines(status_text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(key + ":"))
      continue;
    std::istringstream fields(line.substr(key.size() + 1));
    for (std::uint32_t number = 0; fields >> number;)
      numbers.push_back(number);
  }
  return numbers;
}

std::string process_label(pid_t pid)
{
  return "pid " + std::to_string(pid) + " (" + process_name(pid) + ")";
}

Result<void> check_rlimits_readable(const ProcessInfo &process, const ProcessCredentials &theirs,
                                    const ProcessCredentials &ours, bool sys_resource)
{
  if (sys_resource)
    return {};
  // prlimit(2): our real uid and gid must be each of its (real, effective,
  // saved) ones.
  for (std::size_t i = 0; i < 3; i++)
    if (theirs.uids[i] != ours.uids[0] || theirs.gids[i] != ours.gids[0])
      return Error{"", process_label(process.id.pid) + " runs as uid " +
                           std::to_string(theirs.uids[1]) + ", gid " + std::to_string(theirs.gids[1]) +
                           ": criu dump reads its resource limits with prlimit(2), which the "
                           "kernel allows on another user's process only with CAP_SYS_RESOURCE, "
                           "and this process lacks it (a container that does not grant it?): "
                           "run dbus-checkpoint with CAP_SYS_RESOURCE"};
  return {};
}

Result<void> check_root_has_proc(const ProcessInfo &process, bool privileged)
{
  const fs::path root = "/proc/" + std::to_string(process.id.pid) + "/root";
  std::error_code error;
  if (fs::exists(root / "proc/self", error))
    return {};
  struct statfs fs_info{};
  struct statvfs vfs_info{};
  const bool on_proc = ::statfs(root.c_str(), &fs_info) == 0 && fs_info.f_type == PROC_SUPER_MAGIC;
  const bool read_only = ::statvfs(root.c_str(), &vfs_info) == 0 && (vfs_info.f_flag & ST_RDONLY);
  if (!on_proc && !read_only && privileged)
    return {};  // CRIU's parasite makes a directory there and mounts a /proc
  const fs::path target = fs::read_symlink(root, error);
  return Error{"", process_label(process.id.pid) + " has " +
                       (error ? std::string("a chroot") : target.string()) +
                       " as its root directory, which has no /proc" +
                       (on_proc ? " (it is procfs itself)" : "") +
                       ": CRIU's parasite needs /proc inside the task's root to dump it, and "
                       "cannot make one there; start the service without its chroot (for "
                       "rtkit-daemon: --no-chroot)"};
}

} // namespace

Result<void> check_session_leader_visible(pid_t pid)
{
  // getsid() is 0 when the session's leader is in an ancestor pid namespace
  // (a tree started inside `unshare --pid` from a shell, or a container's
  // init that kept its host session): CRIU has no pid to record for it.
  if (::getsid(pid) != 0)
    return {};
  return Error{"", process_label(pid) + " is in a session whose leader is outside this pid "
                                        "namespace: CRIU cannot dump it, even as a shell job; "
                                        "start the service in a session of its own (setsid) or "
                                        "from a process that leads one inside the namespace"};
}

Result<ProcessCredentials> parse_credentials(const std::string &status_text)
{
  ProcessCredentials credentials{status_numbers(status_text, "Uid"), status_numbers(status_text, "Gid")};
  if (credentials.uids.size() < 4 || credentials.gids.size() < 4)
    return Error{"", "no Uid: and Gid: lines of 4 numbers in /proc/PID/status"};
  return credentials;
}

bool has_sys_resource(const std::string &status_text)
{
  std::istringstream lines(status_text);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("CapEff:")) {
      const std::uint64_t capabilities = std::stoull(line.substr(7), nullptr, 16);
      return (capabilities >> kCapSysResource) & 1;
    }
  return false;
}

Result<void> check_criu_can_dump(const std::vector<ProcessInfo> &tree)
{
  auto own_status = read_whole_file("/proc/self/status");
  if (!own_status)
    return own_status.error();
  auto ours = parse_credentials(own_status.value());
  if (!ours)
    return ours.error();
  const bool sys_resource = has_sys_resource(own_status.value());
  for (const ProcessInfo &process : tree) {
    auto status = read_whole_file("/proc/" + std::to_string(process.id.pid) + "/status");
    if (!status)
      return status.error();
    auto theirs = parse_credentials(status.value());
    if (!theirs)
      return theirs.error();
    if (auto readable = check_rlimits_readable(process, theirs.value(), ours.value(), sys_resource);
        !readable)
      return readable;
    if (auto session = check_session_leader_visible(process.id.pid); !session)
      return session;
    if (auto has_proc = check_root_has_proc(process, /*privileged=*/theirs.value().uids[1] == 0);
        !has_proc)
      return has_proc;
  }
  return {};
}

} // namespace dbus_checkpoint::cli
