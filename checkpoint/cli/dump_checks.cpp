// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/dump_checks.hpp"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/sockios.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "base/child_process.hpp"
#include "base/unique_fd.hpp"
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

// The inode of the network namespace a socket was created in (SIOCGSKNS on
// our duplicate of the process's fd, pidfd_getfd(2)); nullopt where the
// kernel cannot tell (then criu dump finds out itself).
std::optional<ino_t> socket_network_namespace(int pidfd, int fd)
{
  base::UniqueFd socket(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0)));
  if (!socket)
    return std::nullopt;
  base::UniqueFd network_namespace(::ioctl(socket.get(), SIOCGSKNS));
  struct stat namespace_stat{};
  if (!network_namespace || ::fstat(network_namespace.get(), &namespace_stat) != 0)
    return std::nullopt;
  return namespace_stat.st_ino;
}

} // namespace

std::optional<std::string> mount_with_outside_master(const std::string &mountinfo_text)
{
  // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAG...] - TYPE SOURCE ..."
  // (proc_pid_mountinfo(5)); the tags include shared:N and master:N.
  struct Mount {
    std::string mountpoint;
    std::vector<std::string> tags;
  };
  std::vector<Mount> mounts;
  std::vector<std::string> shared_groups;
  std::istringstream lines(mountinfo_text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mountpoint, options, tag;
    if (!(fields >> id >> parent >> device >> root >> mountpoint >> options))
      continue;
    Mount mount{mountpoint, {}};
    while (fields >> tag && tag != "-") {
      mount.tags.push_back(tag);
      if (tag.starts_with("shared:"))
        shared_groups.push_back(tag.substr(7));
    }
    mounts.push_back(std::move(mount));
  }
  for (const Mount &mount : mounts)
    for (const std::string &tag : mount.tags)
      if (tag.starts_with("master:") &&
          std::find(shared_groups.begin(), shared_groups.end(), tag.substr(7)) == shared_groups.end())
        return mount.mountpoint + " (" + tag + ")";
  return std::nullopt;
}

Result<void> check_mounts_restorable(pid_t pid)
{
  if (shares_namespace(pid, "mnt"))
    return {};  // CRIU dumps no mounts then
  auto mountinfo = read_whole_file("/proc/" + std::to_string(pid) + "/mountinfo");
  if (!mountinfo)
    return {};  // gone or hidden: criu dump says why
  const std::optional<std::string> slave = mount_with_outside_master(mountinfo.value());
  if (!slave)
    return {};
  return Error{"", process_label(pid) +
                       " runs in a mount namespace of its own whose mounts receive mount "
                       "propagation from outside it, e.g. " + *slave +
                       " (a unit sandboxed by systemd: ProtectSystem=, PrivateTmp=, "
                       "PrivateDevices=, …): the CRIU in use cannot restore such a namespace "
                       "(criu dump needs --external mnt[] --enable-external-masters "
                       "--enable-external-sharing and an external file for its /dev/null; "
                       "criu restore then fails: \"BUG at criu/mount.c:48\", or with "
                       "--mntns-compat-mode \"Can't umount at ./sys: Device or resource busy\"); "
                       "run the service without its mount sandbox to checkpoint it"};
}

Result<void> check_sockets_in_own_network_namespace(pid_t pid)
{
  const std::string proc = "/proc/" + std::to_string(pid);
  struct stat own_namespace{};
  if (::stat((proc + "/ns/net").c_str(), &own_namespace) != 0)
    return {};  // gone or hidden: criu dump says why
  base::UniqueFd pidfd(base::open_pidfd(pid));
  if (!pidfd)
    return {};
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(proc + "/fd", error)) {
    const std::string target = fs::read_symlink(entry.path(), error).string();
    if (error || !target.starts_with("socket:"))
      continue;
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception &) {
      continue;
    }
    const std::optional<ino_t> socket_namespace = socket_network_namespace(pidfd.get(), fd);
    if (!socket_namespace || *socket_namespace == own_namespace.st_ino)
      continue;
    return Error{"", process_label(pid) + " runs in network namespace net:[" +
                         std::to_string(own_namespace.st_ino) + "], but its fd " + std::to_string(fd) +
                         " (" + target + ") is a socket of another one, net:[" +
                         std::to_string(*socket_namespace) +
                         "] (a unit with PrivateNetwork=: systemd connected its stdout/stderr to "
                         "the journal before moving it into a network namespace of its own): "
                         "CRIU cannot dump a socket of a network namespace outside the dumped "
                         "tree's (\"Unable to dump a socket from an external network namespace\"); "
                         "run the service without PrivateNetwork= to checkpoint it"};
  }
  return {};
}

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
  return {has(criu::kRlimitsFromProc), has(criu::kCgroupsFromProc),
          has(criu::kUnixSocketsOfOtherNetns)};
}

Result<void> check_criu_can_dump(const std::vector<ProcessInfo> &tree, const CriuAbilities &abilities,
                                 bool from_inside)
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
    if (!abilities.unix_sockets_to_plugins)
      if (auto sockets = check_sockets_in_own_network_namespace(process.id.pid); !sockets)
        return sockets;
    if (!from_inside)
      if (auto mounts = check_mounts_restorable(process.id.pid); !mounts)
        return mounts;
    if (auto has_proc = check_root_has_proc(process, /*privileged=*/theirs.value().uids[1] == 0,
                                            abilities.cgroups_from_proc);
        !has_proc)
      return has_proc;
  }
  return {};
}

} // namespace dbus_checkpoint::cli
