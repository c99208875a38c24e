// SPDX-License-Identifier: GPL-2.0-or-later
// A systemd service in a sandbox of its own (ProtectSystem=, PrivateDevices=,
// PrivateNetwork=, …: namespaces systemd made for it).  CRIU 4.2.1 cannot
// dump and restore such a mount namespace (its mounts are slaves of the
// host's); it need not: criu dumps the tree from *inside* its namespaces
// (the tree then shares criu's, so none is dumped), and the unit's start
// restores it inside the sandbox systemd makes afresh for that start (the
// drop-in's ExecStart=!, systemd_unit.hpp).  What the sandbox cannot see:
// the /dev/null systemd opened as the service's stdin before it mounted the
// sandbox's own /dev -- an external file of the dump, given back at restore
// as criu's own stdin (/dev/null, read-write).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "cli/manifest.hpp"
#include "cli/process_tree.hpp"

namespace dbus_checkpoint::cli {

struct UnitSandbox {
  pid_t pid = 0;  // the tree's root, whose namespaces criu enters
  // The namespaces apart from ours, and CRIU's ids of the tree's files on
  // no mount of the sandbox (each a /dev/null): kept in the manifest.
  ManifestSandbox seen;
};

// The mount ids of /proc/PID/mountinfo text (its first field).
std::set<int> mount_ids(const std::string &mountinfo_text);

// The "mnt_id:" of /proc/PID/fdinfo/FD text; nullopt without one.
std::optional<int> fdinfo_mount_id(const std::string &fdinfo_text);

// CRIU's id of an external file: "file[%x:%lx]" (mount id, inode).
std::string criu_file_id(int mount_id, ino_t inode);

// The sandbox of `tree` when its root, the main process of a systemd
// service, runs in namespaces apart from ours; nullopt when it shares them.
// Refuses (naming the process, the file and why) when a process of the tree
// is in other namespaces than the root's, or when a file of the tree other
// than a /dev/null is outside the sandbox's mounts.
base::Result<std::optional<UnitSandbox>> unit_sandbox_of(const std::vector<ProcessInfo> &tree);

// Refuses unless `path` is, in the sandbox, the same file as in ours (the
// restore runs in the sandbox: this program, criu, the plugin directory and
// the images must be there, PrivateTmp= hides /tmp, say); `what` names it.
base::Result<void> check_visible_in_sandbox(const UnitSandbox &sandbox,
                                            const std::filesystem::path &path,
                                            const std::string &what);

// criu dump's options for it (--external file[…] for each outside file) and
// criu restore's (--inherit-fd fd[0]:file[…]: criu's stdin is /dev/null).
std::vector<std::string> sandbox_dump_options(const UnitSandbox &sandbox);
std::vector<std::string> sandbox_restore_options(const ManifestSandbox &sandbox);

} // namespace dbus_checkpoint::cli
