// SPDX-License-Identifier: GPL-2.0-or-later
// A private system-type bus on one of the daemons the benchmarks compare:
// our patched dbus-daemon, the stock dbus-daemon built from the same tarball
// without our patches, or Debian's dbus-broker.  All three read the same
// kind of configuration: the system.conf of a dbus build, rewritten by
// PrivateSystemBus for a private socket (dbus-broker gets the stock one).
//
// dbus-broker-launch expects systemd: a listening socket passed as LISTEN_FDS
// (systemd-socket-activate does that here) and the journal's socket at
// /run/systemd/journal/socket.  Where no journal runs, the launcher gets a
// private mount namespace whose /run holds a socket this process binds and
// never reads (the launcher's logging is lossy, so it never blocks).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "private_bus.hpp"
#include "process.hpp"

namespace dcp::bench {

enum class Daemon { Ours, Stock, Broker };

std::string to_string(Daemon daemon);  // "ours", "stock", "broker"

// Why dbus-broker cannot run here (missing programs, not root), or nullopt.
std::optional<std::string> broker_unavailable_reason();

class JournalSink;

class BenchBus {
 public:
  BenchBus(Daemon daemon, const std::string &extra_config = {});
  ~BenchBus();
  BenchBus(const BenchBus &) = delete;
  BenchBus &operator=(const BenchBus &) = delete;

  Daemon daemon() const { return daemon_; }
  // The configuration, directory and address; for dbus-broker the
  // dbus-daemon this object starts is stopped at once, only its files serve.
  const test::PrivateSystemBus &config() const { return bus_; }

 private:
  void start_broker();
  std::filesystem::path broker_log_path() const;
  std::string broker_log() const;
  Daemon daemon_;
  test::PrivateSystemBus bus_;
  std::unique_ptr<JournalSink> journal_;
  test::ChildProcess launcher_;
};

} // namespace dcp::bench
