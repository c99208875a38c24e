// SPDX-License-Identifier: GPL-2.0-or-later
// Our patched daemon as THE system bus, the way a Debian system runs it, for
// Debian's own system services.  Root only.
//
// A private mount namespace (and a network namespace with only lo, so that
// avahi-daemon does not announce anything on this machine's network) is
// held by a `sleep` (the holder).  In it:
//   /run                 a tmpfs (services' runtime dirs: /run/avahi-daemon …)
//   /run/dbus            a tmpfs: the socket is /run/dbus/system_bus_socket
//   /var/lib/dbus        a scratch directory (the daemon's <checkpoint_dir>,
//                        /var/lib/dbus/checkpoint, owned by messagebus)
//   /var/lib/AccountsService, /etc/polkit-1/rules.d
//                        scratch directories: what the services write there
//                        stays in the test
// The daemon runs the built system.conf with only syslog and this machine's
// /etc includes left out and `<includedir>/usr/share/dbus-1/system.d` (the
// packages' policies); it drops to `messagebus` itself (<user>) and
// activates services through Debian's setuid launch helper, as installed.
//
// Everything run "on" this bus enters the namespaces with nsenter; the test
// reaches files and the socket through /proc/HOLDER/root.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "process.hpp"

namespace dcp::test::system {

using CommandPrefix = std::vector<std::string>;

inline const std::filesystem::path kSystemBusSocket = "/run/dbus/system_bus_socket";
inline const std::filesystem::path kCheckpointDir = "/var/lib/dbus/checkpoint";

class DistributionBus {
 public:
  DistributionBus();
  // Kills every process left in the namespace (services, those the bus
  // activated, restored ones), then the daemon and the holder.
  ~DistributionBus();
  DistributionBus(const DistributionBus &) = delete;
  DistributionBus &operator=(const DistributionBus &) = delete;

  // What follows runs in the namespaces, with the bus as the system bus;
  // nsenter execs it, so the pid is the command's.
  CommandPrefix enter() const;
  // A path inside, as the test reaches it.
  std::filesystem::path outside(const std::filesystem::path &inside) const;
  // The test's own connection to the bus (Hello done).
  SdBus open_bus() const;
  // The work directory (in /tmp, the same inside and out): logs, images.
  const std::filesystem::path &dir() const { return dir_; }
  std::string log() const;
  pid_t daemon_pid() const { return daemon_.pid(); }

  // A service started as init starts one: a session of its own, only fds
  // 0-2 open, stdin /dev/null, stdout and stderr appended to
  // dir()/LOG_NAME (opened inside: CRIU knows files on the namespace's
  // mounts only).  The pid is the service's.
  ChildProcess start_service(const std::vector<std::string> &argv, const std::string &log_name) const;
  // A command in the namespaces, to completion.
  CommandResult run(const std::vector<std::string> &argv,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  void kill_hard();  // the daemon SIGKILLed, as a crash would
  void start();      // the daemon (re)started on the same state directory

 private:
  void kill_namespace_processes();
  std::vector<std::string> logged_inside(const std::vector<std::string> &argv,
                                         const std::filesystem::path &log) const;
  std::filesystem::path dir_;
  ChildProcess holder_;  // first: it outlives the daemon
  ChildProcess daemon_;
};

} // namespace dcp::test::system
