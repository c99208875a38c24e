// SPDX-License-Identifier: GPL-2.0-or-later
// A checkpointed process that is the main process of a systemd service:
// the unit's start becomes the restore while the checkpoint is pending.
//
// `checkpoint` writes a drop-in, UNIT.d/zz-dbus-checkpoint.conf (in
// /run/systemd/system when the images are under /run, which a reboot
// empties; in /etc/systemd/system otherwise), and reloads systemd before
// CRIU dumps (and so kills) the process:
//   - SuccessExitStatus=SIGKILL and Restart=no: the dump's SIGKILL stops
//     the unit cleanly (inactive, not failed) and nothing restarts it;
//   - ExecStop=, ExecStopPost=, ExecStartPre= emptied: the process's state
//     is in the images, not to be cleaned up or prepared again;
//   - Type=forking, ExecStart=+dbus-checkpoint restore -D DIR, PIDFile=:
//     starting the unit (systemctl start, or at boot) *is* the restore,
//     and the restored pid becomes the unit's main pid.
// `restore` of such a checkpoint goes through `systemctl start UNIT`; the
// restore run by systemd (DBUS_CHECKPOINT_UNIT=UNIT in its environment,
// in the unit's cgroup) writes the pid file and removes the drop-in, and
// the drop-in's ExecStartPost= runs systemctl daemon-reload (the main pid
// is known by then), so the unit is its normal self again.  `discard ID` removes the drop-ins
// naming ID.  A failed checkpoint removes its drop-in at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

inline constexpr const char *kUnitEnvironment = "DBUS_CHECKPOINT_UNIT";
inline constexpr const char *kDropInName = "zz-dbus-checkpoint.conf";

struct UnitTakeover {
  std::string unit;                // "avahi-daemon.service"
  std::filesystem::path drop_in;   // .../avahi-daemon.service.d/zz-dbus-checkpoint.conf
  std::filesystem::path pid_file;  // /run/dbus-checkpoint/avahi-daemon.service.pid
};

// "foo.service", "foo@bar.service": what systemd accepts as a service name.
bool is_service_unit_name(const std::string &name);

// The service unit whose main process is `pid` (systemd's MainPID), when
// systemd runs this system; nullopt otherwise (`note_out` says why, e.g. a
// process in a unit's cgroup that is not its main process).
base::Result<std::optional<std::string>> service_unit_of(pid_t pid, std::string &note_out);

// What `checkpoint` does to the unit before the dump: the drop-in, then
// `systemctl daemon-reload`.  `restore_argv`: the restore command the
// unit's start runs (this program, its options, restore -D DIR).
// `in_sandbox`: the service runs in the unit's sandbox (unit_sandbox.hpp),
// and so does the restore: ExecStart=! (root, the unit's namespaces), with
// what criu cannot run under lifted for that start (seccomp filters,
// NoNewPrivileges=, the capability bounding set, …: the restored process
// gets its own back from the images) and the paths it writes made
// writable; otherwise ExecStart=+ (root, no sandbox).
base::Result<UnitTakeover> take_over_unit(const std::string &unit,
                                                const std::filesystem::path &images_dir,
                                                const std::vector<std::string> &checkpoint_ids,
                                                const std::vector<std::string> &restore_argv,
                                                bool in_sandbox = false);
// The drop-in's text (for the tests).
base::Result<std::string> drop_in_text(const std::string &unit,
                                             const std::filesystem::path &images_dir,
                                             const std::vector<std::string> &checkpoint_ids,
                                             const std::vector<std::string> &restore_argv,
                                             bool in_sandbox = false);
std::filesystem::path drop_in_path(const std::string &unit, const std::filesystem::path &images_dir);
std::filesystem::path pid_file_path(const std::string &unit);

// Removes the drop-in (and its directory if empty); with `reload`, runs
// `systemctl daemon-reload` after.
base::Result<void> give_back_unit(const UnitTakeover &takeover, bool reload);

// The drop-ins (in /run and /etc) that name this checkpoint id.
std::vector<UnitTakeover> takeovers_naming(const std::string &checkpoint_id);

// This process is the unit's start run by systemd (the drop-in's
// ExecStart): DBUS_CHECKPOINT_UNIT names the unit and we are in its cgroup.
bool running_as_start_of(const std::string &unit);

// systemctl VERB ARGS... to its end; the error carries its output.
base::Result<std::string> systemctl(const std::vector<std::string> &arguments,
                                          std::chrono::seconds timeout = std::chrono::seconds(30));
// systemctl show -P PROPERTY UNIT.
std::string unit_property(const std::string &unit, const std::string &property);

} // namespace dbus_checkpoint::cli
