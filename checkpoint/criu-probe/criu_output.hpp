// SPDX-License-Identifier: GPL-2.0-or-later
// What dbus-checkpoint reads from CRIU's output and logs: its version, its
// error reports, the tail of a log, and what to tell a user whose CRIU is
// too old.  Plain C++ with no other dependency, so that the configure step
// can compile the probe (criu_probe.cpp) before anything else is built.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dbus_checkpoint::criu {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;

  std::string str() const;  // "4.2.1"
  auto operator<=>(const Version &) const = default;
};

// CRIU >= 4.2 is needed: 4.1 hangs in every dump where the hypervisor does
// not virtualize hardware breakpoints, and cannot dump an inet socket on
// kernels >= 6.16.
inline constexpr Version kMinimumVersion{4, 2, 0};

// The version in `criu --version`'s output ("Version: 4.2.1"), if any.
std::optional<Version> parse_version(const std::string &output);

// What our criu-patches/ changed in this CRIU: the words after
// "Patches: dbus-checkpoint" in `criu --version`'s output (patch 0004; a
// later patch may add a line of its own), in order; none for a CRIU without
// our patches.
std::vector<std::string> parse_patch_features(const std::string &output);

// Patch 0002: criu dump reads a task's rlimits from /proc/PID/limits when
// prlimit(2) is refused (another user's task without CAP_SYS_RESOURCE).
inline constexpr const char *kRlimitsFromProc = "rlimits-from-proc";
// Patch 0003: criu dump reads the cgroups of a task in its own cgroup
// namespace from /proc/PID/cgroup, not through the parasite (which needs a
// /proc inside the task's root: a chrooted daemon has none).
inline constexpr const char *kCgroupsFromProc = "cgroups-from-proc";
// Patch 0007: criu dump offers a unix socket of a network namespace outside
// the dumped tree's (a unit's journal stream under PrivateNetwork=) to the
// plugins instead of failing on it.
inline constexpr const char *kUnixSocketsOfOtherNetns = "unix-sockets-of-other-netns";

// Why a CRIU of this version is not good enough, or "" when it is.
std::string why_too_old(const Version &version);

// The last `count` of CRIU's own error reports in a log ("Error (file:line):
// ..." lines), each prefixed with `indent`, leaving out the one CRIU always
// prints on these machines and that does no harm (RLIMIT_NOFILE).
std::string error_lines(const std::string &log, std::size_t count, const std::string &indent);

// Both tail the log with base::last_lines (base/program.hpp).

// "; errors in LOG:\n<errors>and its last lines:\n<tail>" or, without
// error reports, "; the last lines of LOG:\n<tail>"; "" for an empty log.
std::string describe_log(const std::string &log_text, const std::string &log_path,
                         std::size_t error_count, std::size_t tail_count);

} // namespace dbus_checkpoint::criu
