// SPDX-License-Identifier: GPL-2.0-or-later
// The cgroup v2 freezer (cgroup.freeze) of a process's own cgroup.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <sys/types.h>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

// Where the cgroup2 file system is mounted (the mount of its root), if it is.
std::optional<std::filesystem::path> cgroup2_mount_point();

// The directory of the cgroup v2 cgroup that `pid` is in, if the cgroup2
// file system is mounted here and the process is not in the root cgroup
// (which has no cgroup.freeze).
std::optional<std::filesystem::path> own_cgroup_dir(pid_t pid);

// Every pid in the cgroup and the cgroups below it.
std::set<pid_t> cgroup_pids(const std::filesystem::path &cgroup_dir);

bool cgroup_is_frozen(const std::filesystem::path &cgroup_dir);  // cgroup.events "frozen 1"
bool cgroup_freeze_is_writable(const std::filesystem::path &cgroup_dir);

// Writes cgroup.freeze; freezing waits (up to `timeout`) until the kernel
// reports the whole cgroup frozen.
base::Result<void> freeze_cgroup(const std::filesystem::path &cgroup_dir,
                                       std::chrono::milliseconds timeout);
base::Result<void> unfreeze_cgroup(const std::filesystem::path &cgroup_dir);

} // namespace dbus_checkpoint::cli
