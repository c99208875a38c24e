// SPDX-License-Identifier: GPL-2.0-or-later
// What CRIU cannot dump, found before anything is frozen, so that
// `checkpoint` refuses with the reason instead of failing half-way in
// criu dump (where the service would be thawed again, but the reason would
// be buried in CRIU's log).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bus-client/result.hpp"
#include "cli/process_tree.hpp"

namespace dbus_checkpoint::cli {

// The credentials the kernel compares for prlimit(2) on another process.
struct ProcessCredentials {
  std::vector<std::uint32_t> uids;  // real, effective, saved, filesystem
  std::vector<std::uint32_t> gids;
};

// From /proc/PID/status text ("Uid:\t…" and "Gid:\t…" lines).
bus_client::Result<ProcessCredentials> parse_credentials(const std::string &status_text);
// CAP_SYS_RESOURCE in a "CapEff:\t<hex>" line of /proc/self/status text.
bool has_sys_resource(const std::string &status_text);

// Refuses when the session leader of `pid` is outside our pid namespace
// (getsid() is 0): criu dump fails on such a task ("A session leader of …
// is outside of its pid namespace").
bus_client::Result<void> check_session_leader_visible(pid_t pid);

// Refuses, naming the process and what to do, when
// - its session's leader is outside our pid namespace (see above);
// - CRIU could not read its rlimits: criu dump reads them with prlimit(2),
//   which the kernel allows on a process of other credentials only with
//   CAP_SYS_RESOURCE (a container may not grant it: then no service that
//   dropped to its own user can be dumped);
// - its root directory (a chroot) has no /proc and CRIU's parasite cannot
//   make one there: it needs /proc inside the task's root (rtkit-daemon
//   chroots into /proc itself unless started with --no-chroot).
bus_client::Result<void> check_criu_can_dump(const std::vector<ProcessInfo> &tree);

} // namespace dbus_checkpoint::cli
