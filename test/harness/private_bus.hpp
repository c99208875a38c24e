// SPDX-License-Identifier: GPL-2.0-or-later
// A private system-type bus running our patched dbus-daemon.
//
// Its configuration is the patched daemon's own system.conf (the real
// policy Debian ships) with only what cannot work in a test rewritten: it
// listens on a socket in a temporary directory, stays in the foreground as
// the current user, logs to a file instead of syslog, and reads policy from
// that directory's system.d/ instead of /etc.  While it runs,
// DBUS_SYSTEM_BUS_ADDRESS points at it, so `dbus-send --system`,
// `busctl --system`, sd-bus, libdbus and GDBus clients all reach it.
#pragma once

#include <filesystem>
#include <string>

#include "process.hpp"

namespace dcp::test {

class PrivateSystemBus {
 public:
  struct Options {
    std::string extra_config;   // XML inserted before </busconfig>, e.g. <limit>s
    // Another dbus-daemon and the system.conf of its build (the benchmarks'
    // stock daemon); empty: our patched daemon and its system.conf.
    std::string daemon_path;
    std::string system_conf_path;
  };

  PrivateSystemBus() : PrivateSystemBus(Options{}) {}
  explicit PrivateSystemBus(Options options);
  ~PrivateSystemBus();
  PrivateSystemBus(const PrivateSystemBus &) = delete;
  PrivateSystemBus &operator=(const PrivateSystemBus &) = delete;

  const std::string &address() const { return address_; }
  const std::filesystem::path &dir() const { return dir_; }
  std::filesystem::path socket_path() const { return dir_ / "system_bus_socket"; }
  std::filesystem::path config_path() const { return dir_ / "system.conf"; }
  std::filesystem::path policy_dir() const { return dir_ / "system.d"; }
  std::filesystem::path log_path() const { return dir_ / "dbus-daemon.log"; }
  // Where the daemon keeps the records of frozen connections.
  std::filesystem::path checkpoint_dir() const { return dir_ / "checkpoint"; }
  pid_t pid() const { return daemon_.pid(); }
  std::string log() const { return read_file(log_path()); }

  void kill_hard();   // SIGKILL, as a crash or power cut would
  void start();       // (re)start with the same configuration and state
  void stop();        // SIGTERM and wait

 private:
  void write_config(const Options &options);
  std::filesystem::path dir_;
  std::string daemon_path_;
  std::string address_;
  ChildProcess daemon_;
};

// Paths of what the tests run, fixed at configure time (see CMakeLists.txt).
std::string dbus_daemon_path();
std::string built_system_conf_path();

} // namespace dcp::test
