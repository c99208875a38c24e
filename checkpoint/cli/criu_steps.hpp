// SPDX-License-Identifier: GPL-2.0-or-later
// What checkpoint and restore share: running CRIU with our plugin, the
// error that carries the tail of CRIU's log, and thawing connections.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/child_process.hpp"
#include "bus-client/checkpoint_bus.hpp"
#include "cli/format.hpp"
#include "cli/manifest.hpp"

namespace dbus_checkpoint::cli {

struct CriuSetup {
  std::string executable;             // --criu
  std::filesystem::path plugin_dir;   // --plugin-dir (made absolute: criu -L needs it)
  bus_client::BusAddress bus;         // given to the plugin as DBUS_SYSTEM_BUS_ADDRESS
  std::chrono::seconds timeout{120};  // --criu-timeout: each criu run is killed after it
  std::string version;                // what `criu --version` said, e.g. "4.2.1"
  // What our criu-patches/ changed in it ("Patches: dbus-checkpoint ..."
  // in `criu --version`): none for an upstream CRIU.
  std::vector<std::string> patch_features;
  // Other buses of the checkpoint (a session bus): the plugin may reattach
  // to their sockets too (DBUS_CHECKPOINT_BUS_SOCKETS).
  std::vector<std::string> other_bus_addresses;
};

// How long `criu --version` may take in check_criu_setup.
inline constexpr std::chrono::seconds kCriuVersionTimeout{5};

// How many lines of CRIU's log a failure shows: its last ones, and before
// them the last of its error reports.
inline constexpr std::size_t kLogTailLines = 12;
inline constexpr std::size_t kLogErrorLines = 6;

// The CRIU can run, answers `criu --version` within kCriuVersionTimeout with
// 4.2 or newer, and the plugin directory holds a plugin; checked before
// anything is frozen.
base::Result<CriuSetup> check_criu_setup(const std::string &executable,
                                               const std::string &plugin_dir,
                                               const bus_client::BusAddress &bus,
                                               std::chrono::seconds timeout);

// The address the bus is at: --address, else $DBUS_SYSTEM_BUS_ADDRESS,
// else the standard system socket.
std::string bus_address_in_use(const bus_client::BusAddress &bus);

// `criu ACTION -D DIR -L PLUGIN_DIR -v4 -o - EXTRA...`, timed, its log
// (its stdout, a pipe) written to DIR/ACTION.log.  Through a pipe because
// CRIU's restorer still logs from inside a restored task after it got its
// own rlimits back: a write to a regular file there kills a service that
// lowered RLIMIT_FSIZE (rtkit-daemon: 0) with SIGXFSZ; pipes have no size
// limit.  `in_new_session`: criu runs as the leader of a session of its own.
// `in_namespaces_of` (not 0): criu runs in that process's namespaces
// (unit_sandbox.hpp), with `-D .`: DIR, opened in ours, is its working
// directory.  Fails with CRIU's end (exit status, signal) and the last
// lines of its log.
base::Result<Clock::duration> run_criu(const CriuSetup &setup, const std::string &action,
                                             const std::filesystem::path &images_dir,
                                             const std::vector<std::string> &extra_arguments,
                                             bool in_new_session = false,
                                             pid_t in_namespaces_of = 0);

// The same criu command as run_criu (not in other namespaces), started and
// left running: its log (stdout and stderr) goes to DIR/ACTION.log as it
// writes it.  For `criu lazy-pages`, which must serve the restored
// process's pages while criu restore runs and after.  It is killed when the
// ChildProcess goes, unless forget()ed.  `status_fd` (not -1) is criu's
// fd 3, for `--status-fd 3` in `extra_arguments`: criu writes a byte there
// once it serves (criu dump --lazy-pages: its page server listens).
base::Result<base::ChildProcess> start_criu(const CriuSetup &setup, const std::string &action,
                                            const std::filesystem::path &images_dir,
                                            const std::vector<std::string> &extra_arguments,
                                            bool in_new_session, int status_fd = -1);

// "killed by signal 25 (File size limit exceeded)", "exit status 1": a
// wait status, as ChildProcess::wait_for gives it.
std::string describe_wait_status(int status);

// Where our CRIU keeps its kernel probe for the boot (criu-patches/0001).
inline constexpr const char *kCriuKdatCache = "/run/criu.kdat";

// Makes sure criu's kernel probe is cached (`criu check` when kCriuKdatCache
// is missing): criu run inside a unit's sandbox cannot probe (it mounts a
// tmpfs on a directory it makes in /tmp, read-only there) but reads the
// cache.  The command line it takes, for a unit's ExecStartPre=.
void prepare_kdat_cache(const CriuSetup &setup);
std::string kdat_cache_command(const std::string &criu);

// What checkpoint and restore check first: euid 0 (or an error naming
// `command` and why it needs root), then check_criu_setup.
base::Result<CriuSetup> check_root_and_criu(const std::string &command,
                                                  const std::string &why_root,
                                                  const std::string &executable,
                                                  const std::string &plugin_dir,
                                                  const bus_client::BusAddress &bus,
                                                  std::chrono::seconds timeout);

// Calls `action` (the bus's Thaw or Discard) for each connection; returns
// one line per connection that failed ("ID (:1.5): NAME: message").
std::vector<std::string> for_each_connection(
    const std::vector<ManifestConnection> &connections,
    const std::function<base::Status(const std::string &checkpoint_id)> &action);
// for_each_connection with the bus's Thaw.
std::vector<std::string> thaw_connections(bus_client::CheckpointBus &bus,
                                          const std::vector<ManifestConnection> &connections);

// A table, indented: unique name, names, checkpoint id, pid.
std::string connection_table(const std::vector<ManifestConnection> &connections);
// "1 bus connection", "2 bus connections".
std::string count_connections(std::size_t count);

} // namespace dbus_checkpoint::cli
