// SPDX-License-Identifier: GPL-2.0-or-later
// What test/wayland needs around a graphical session: our daemon as a
// private SESSION bus, the session's process tree (test/wayland/session.sh
// under setsid), screenshots, and killing a whole restored tree.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "process.hpp"

namespace dcp::test::wayland {

// Our patched dbus-daemon as a session bus, configured from the daemon's
// own session.conf with what cannot work in a test rewritten (written at
// run time, as PrivateSystemBus does for system.conf): it listens on a
// socket in a temporary directory, activates nothing of the host's, reads
// no host configuration, and keeps frozen connections' records in
// <checkpoint_dir>.  While it runs, DBUS_SESSION_BUS_ADDRESS points at it.
class PrivateSessionBus {
 public:
  PrivateSessionBus();
  ~PrivateSessionBus();
  PrivateSessionBus(const PrivateSessionBus &) = delete;
  PrivateSessionBus &operator=(const PrivateSessionBus &) = delete;

  const std::string &address() const { return address_; }
  std::filesystem::path checkpoint_dir() const { return dir_ / "checkpoint"; }
  std::filesystem::path config_path() const { return dir_ / "session.conf"; }
  std::string log() const { return read_file(dir_ / "dbus-daemon.log"); }

  void kill_hard();  // SIGKILL, as a crash would
  void start();      // (re)start with the same configuration and records

 private:
  std::filesystem::path dir_;
  std::string address_;
  ChildProcess daemon_;
};

// The built daemon's session.conf (fixed at configure time).
std::string built_session_conf_path();

// SIGKILLs `root` and every descendant, then waits (up to `timeout`) until
// they have left /proc; reaps those that are our children.
void kill_tree(pid_t root, std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace dcp::test::wayland
