// SPDX-License-Identifier: GPL-2.0-or-later
// What CRIU cannot dump, found before anything is frozen, so that
// `checkpoint` refuses with the reason instead of failing half-way in
// criu dump (where the service would be thawed again, but the reason would
// be buried in CRIU's log).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "cli/process_tree.hpp"

namespace dbus_checkpoint::cli {

// The credentials the kernel compares for prlimit(2) on another process.
struct ProcessCredentials {
  std::vector<std::uint32_t> uids;  // real, effective, saved, filesystem
  std::vector<std::uint32_t> gids;
};

// From /proc/PID/status text ("Uid:\t…" and "Gid:\t…" lines).
base::Result<ProcessCredentials> parse_credentials(const std::string &status_text);
// CAP_SYS_RESOURCE in a "CapEff:\t<hex>" line of /proc/self/status text.
bool has_sys_resource(const std::string &status_text);

// What the CRIU in use dumps beyond an upstream CRIU: our criu-patches/,
// named in `criu --version` ("Patches: dbus-checkpoint WORD...").
struct CriuAbilities {
  // 0002: a task's rlimits are read from /proc/PID/limits when prlimit(2)
  // is refused (another user's task without CAP_SYS_RESOURCE); its restore
  // fails on a hard limit above criu's own without the capability.
  bool rlimits_from_proc = false;
  // 0003: the cgroups of a task in criu's cgroup namespace are read from
  // /proc/PID/cgroup, not by the parasite (which needs /proc in the task's
  // root).
  bool cgroups_from_proc = false;
  // 0007: a unix socket of a network namespace outside the dumped tree's
  // (the journal stream of a unit with PrivateNetwork=) is offered to the
  // plugins, which save and reopen a journal stream.
  bool unix_sockets_to_plugins = false;
};
CriuAbilities criu_abilities(const std::vector<std::string> &patch_features);

// One row of /proc/PID/limits ("Max open files  1024  524288  files").
struct ResourceLimit {
  std::string name;  // "Max open files"
  std::uint64_t soft = 0, hard = 0;  // kUnlimited for "unlimited"
};
inline constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

// Every row of /proc/PID/limits text, in the kernel's order (RLIMIT_*).
base::Result<std::vector<ResourceLimit>> parse_limits(const std::string &limits_text);

// Refuses when the session leader of `pid` is outside our pid namespace
// (getsid() is 0): criu dump fails on such a task ("A session leader of …
// is outside of its pid namespace").
base::Result<void> check_session_leader_visible(pid_t pid);

// Refuses when a socket of `pid` belongs to a network namespace other than
// the one `pid` runs in: criu dump collects the sockets of the dumped
// tree's network namespaces only and fails on such a socket ("Unix socket
// N not found"; "Unable to dump a socket from an external network
// namespace").  A unit with PrivateNetwork= (accounts-daemon's) is one:
// systemd connects its stdout/stderr to journald in the host's namespace,
// then gives it a namespace of its own.
base::Result<void> check_sockets_in_own_network_namespace(pid_t pid);

// The first mount of /proc/PID/mountinfo text that is a slave of a peer
// group none of the text's mounts is in ("/sys/fs/bpf (master:3)"): its
// master is in another mount namespace.
std::optional<std::string> mount_with_outside_master(const std::string &mountinfo_text);

// Refuses when `pid` is in a mount namespace other than ours with a mount
// whose master is outside it (systemd's sandboxing options give a unit
// such a namespace): criu dump refuses it ("has unreachable sharing"), and
// where options make the dump pass, criu restore (4.2.1) fails on it.
base::Result<void> check_mounts_restorable(pid_t pid);

// Refuses, naming the process and what to do, when
// - without unix_sockets_to_plugins, a socket of it is of another network
//   namespace (see above);
// - unless criu dumps it from inside its namespaces (`from_inside`, a
//   unit's sandbox: unit_sandbox.hpp), its mount namespace is not ours and
//   has mounts slave to ours (above);
// - its session's leader is outside our pid namespace (see above);
// - without CAP_SYS_RESOURCE (a container may not grant it):
//   - an upstream CRIU could not read its rlimits: prlimit(2) on a process
//     of other credentials needs the capability (then no service that
//     dropped to its own user can be dumped);
//   - with rlimits_from_proc, criu restore could not give it back a hard
//     limit above our own (the restoring criu inherits ours): raising a
//     hard limit needs the capability;
// - its root directory (a chroot) has no /proc and CRIU's parasite cannot
//   make one there: it needs /proc inside the task's root (rtkit-daemon
//   chroots into /proc itself unless started with --no-chroot) -- unless
//   with cgroups_from_proc the task shares our cgroup and pid namespaces,
//   so that the parasite does not look there.
base::Result<void> check_criu_can_dump(const std::vector<ProcessInfo> &tree,
                                             const CriuAbilities &abilities,
                                             bool from_inside = false);

} // namespace dbus_checkpoint::cli
