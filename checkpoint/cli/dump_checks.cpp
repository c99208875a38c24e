// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/dump_checks.hpp"

#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "cli/files.hpp"
#include "criu-probe/criu_output.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

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

// An upstream CRIU reads rlimits with prlimit(2) only: our real uid and
// gid must be each of its (real, effective, saved) ones.
Result<void> check_rlimits_readable(const ProcessInfo &process, const ProcessCredentials &theirs,
                                    const ProcessCredentials &ours)
{
  for (std::size_t i = 0; i < 3; i++)
    if (theirs.uids[i] != ours.uids[0] || theirs.gids[i] != ours.gids[0])
      return Error{"", process_label(process.id.pid) + " runs as uid " +
                           std::to_string(theirs.uids[1]) + ", gid " + std::to_string(theirs.gids[1]) +
                           ": criu dump reads its resource limits with prlimit(2), which the "
                           "kernel allows on another user's process only with CAP_SYS_RESOURCE, "
                           "and this process lacks it (a container that does not grant it?): "
                           "run dbus-checkpoint with CAP_SYS_RESOURCE, or use the CRIU built "
                           "with dbus-checkpoint, whose patch reads them from /proc/PID/limits "
                           "(--criu PATH)"};
  return {};
}

std::string limit_text(std::uint64_t value)
{
  return value == kUnlimited ? "unlimited" : std::to_string(value);
}

// /proc/self/limits or /proc/PID/limits.
Result<std::vector<ResourceLimit>> read_limits(const std::string &path)
{
  auto text = read_whole_file(path);
  if (!text)
    return text.error();
  auto limits = parse_limits(text.value());
  if (!limits)
    return Error{"", path + ": " + limits.error().message};
  return limits;
}

// criu restore (patch 0002) raises a hard limit above the one it inherited
// from us only with CAP_SYS_RESOURCE, and fails otherwise: refuse now,
// while the service still runs.
Result<void> check_hard_limits_restorable(const ProcessInfo &process,
                                          const std::vector<ResourceLimit> &theirs,
                                          const std::vector<ResourceLimit> &ours)
{
  for (std::size_t i = 0; i < theirs.size() && i < ours.size(); i++)
    if (theirs[i].hard > ours[i].hard)
      return Error{"", process_label(process.id.pid) + " has a hard limit '" + theirs[i].name +
                           "' of " + limit_text(theirs[i].hard) + ", above this process's " +
                           limit_text(ours[i].hard) +
                           ": criu restore, started from here, could give it back only with "
                           "CAP_SYS_RESOURCE, and this process lacks it (a container that does "
                           "not grant it?): run dbus-checkpoint with a hard limit at least as "
                           "high (ulimit -H) or with CAP_SYS_RESOURCE"};
  return {};
}

// Whether `pid` is in our namespace of `kind` ("cgroup", "pid").
bool shares_namespace(pid_t pid, const char *kind)
{
  std::error_code error, own_error;
  const fs::path theirs = fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + kind, error);
  const fs::path ours = fs::read_symlink(std::string("/proc/self/ns/") + kind, own_error);
  return !error && !own_error && theirs == ours;
}

Result<void> check_root_has_proc(const ProcessInfo &process, bool privileged, bool cgroups_from_proc)
{
  const fs::path root = "/proc/" + std::to_string(process.id.pid) + "/root";
  std::error_code error;
  if (fs::exists(root / "proc/self", error))
    return {};
  // The parasite looks for /proc only for the cgroups of a task in a cgroup
  // namespace of its own, or for the root of a pid namespace of its own.
  if (cgroups_from_proc && shares_namespace(process.id.pid, "cgroup") &&
      shares_namespace(process.id.pid, "pid"))
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

Result<std::vector<ResourceLimit>> parse_limits(const std::string &limits_text)
{
  // "%-25s %-20s %-20s %-10s" (fs/proc/base.c): the name has spaces, the
  // values are raw rlim_cur/rlim_max or "unlimited"; the units only name them.
  constexpr std::size_t kNameWidth = 25;
  const auto value_of = [](const std::string &word) -> std::optional<std::uint64_t> {
    if (word == "unlimited")
      return kUnlimited;
    if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    try {
      return std::stoull(word);
    } catch (const std::out_of_range &) {
      return std::nullopt;
    }
  };
  std::istringstream lines(limits_text);
  std::string line;
  if (!std::getline(lines, line) || !line.starts_with("Limit "))
    return Error{"", "no 'Limit' header line"};
  std::vector<ResourceLimit> limits;
  while (std::getline(lines, line)) {
    if (line.size() <= kNameWidth)
      return Error{"", "a short row: '" + line + "'"};
    std::string name = line.substr(0, kNameWidth);
    name.erase(name.find_last_not_of(' ') + 1);
    std::istringstream fields(line.substr(kNameWidth));
    std::string soft, hard;
    fields >> soft >> hard;
    auto soft_value = value_of(soft), hard_value = value_of(hard);
    if (name.empty() || !soft_value || !hard_value)
      return Error{"", "cannot read the row '" + line + "'"};
    limits.push_back({name, *soft_value, *hard_value});
  }
  if (limits.empty())
    return Error{"", "no limits"};
  return limits;
}

bool has_sys_resource(const std::string &status_text)
{
  return (proc_status_mask(status_text, "CapEff") >> kCapSysResource) & 1;
}

CriuAbilities criu_abilities(const std::vector<std::string> &patch_features)
{
  const auto has = [&](const char *feature) {
    return std::find(patch_features.begin(), patch_features.end(), feature) != patch_features.end();
  };
  return {has(criu::kRlimitsFromProc), has(criu::kCgroupsFromProc)};
}

Result<void> check_criu_can_dump(const std::vector<ProcessInfo> &tree, const CriuAbilities &abilities)
{
  auto own_status = read_whole_file("/proc/self/status");
  if (!own_status)
    return own_status.error();
  auto ours = parse_credentials(own_status.value());
  if (!ours)
    return ours.error();
  const bool sys_resource = has_sys_resource(own_status.value());
  std::vector<ResourceLimit> our_limits;
  if (!sys_resource && abilities.rlimits_from_proc) {
    auto limits = read_limits("/proc/self/limits");
    if (!limits)
      return limits.error();
    our_limits = std::move(limits).value();
  }
  for (const ProcessInfo &process : tree) {
    auto status = read_whole_file("/proc/" + std::to_string(process.id.pid) + "/status");
    if (!status)
      return status.error();
    auto theirs = parse_credentials(status.value());
    if (!theirs)
      return theirs.error();
    if (sys_resource) {
      // CRIU reads and restores every limit itself.
    } else if (!abilities.rlimits_from_proc) {
      if (auto readable = check_rlimits_readable(process, theirs.value(), ours.value()); !readable)
        return readable;
    } else {
      auto their_limits = read_limits("/proc/" + std::to_string(process.id.pid) + "/limits");
      if (!their_limits)
        return their_limits.error();
      if (auto restorable = check_hard_limits_restorable(process, their_limits.value(), our_limits);
          !restorable)
        return restorable;
    }
    if (auto session = check_session_leader_visible(process.id.pid); !session)
      return session;
    if (auto has_proc = check_root_has_proc(process, /*privileged=*/theirs.value().uids[1] == 0,
                                            abilities.cgroups_from_proc);
        !has_proc)
      return has_proc;
  }
  return {};
}

} // namespace dbus_checkpoint::cli
