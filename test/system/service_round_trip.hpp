// SPDX-License-Identifier: GPL-2.0-or-later
// One Debian system service on a DistributionBus, the whole round trip the
// system suite checks and the services benchmark times: cold start → first
// answered call (a real method or property, its value checked);
// `dbus-checkpoint checkpoint NAME`; a call gets NameFrozen;
// `dbus-checkpoint restore` → the call answered again by the same unique
// name and pid, with the same descriptors; a signal the service emits after
// the restore reaches a subscriber.
//
// Shared by test/system/test_system_services.cpp (which asserts) and
// test/bench/bench_services.cpp (which prints figures), so every step
// reports a failed check by throwing RoundTripFailure with what was seen:
// Boost.Test reports it as the test's error, the benchmark prints it.
// Root only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "criu_support.hpp"
#include "distribution_bus.hpp"
#include "process.hpp"

namespace dcp::test::system {

// A check of the round trip that did not hold; what() says what was seen.
class RoundTripFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A Debian system service as the suite drives it.
struct SystemService {
  std::string label;                      // for messages: the program's name
  std::string bus_name;
  std::vector<std::string> command;       // its unit's ExecStart; empty: bus-activated
  const char *user;                       // the user its connection must have
  // The real call whose answer is checked, and that answer.
  MethodCall call;
  ArgumentWriter arguments;
  std::string expected_answer;
  // After the restore: a match rule for a signal of the service, and what
  // makes it emit one (throws RoundTripFailure if it cannot).  Empty rule:
  // the service declares no signal.
  std::string signal_rule;
  std::function<void(DistributionBus &, sd_bus *)> make_it_signal;
};

// avahi-daemon as avahi-daemon.service starts it (-s: user avahi, chrooted
// into /etc/avahi, with a helper child).
SystemService avahi();
// accounts-daemon by its unit's command line, or (activated) by the bus
// through its org.freedesktop.Accounts.service, as without systemd.
SystemService accounts(bool activated);
// rtkit-daemon: without options as its unit runs it (user rtkit, chroot
// /proc); `options` turn that off.
SystemService rtkit(std::vector<std::string> options);
// polkitd, activated by the bus through Debian's launch helper.
SystemService polkit();

// The user a process runs as (its effective uid); throws if unreadable.
uid_t process_uid(pid_t pid);

// What `dbus-checkpoint checkpoint` of pid's tree would refuse before the
// freeze with this build's CRIU ("" when nothing): an upstream CRIU cannot
// dump another user's service without CAP_SYS_RESOURCE, nor one chrooted
// where there is no /proc.
std::string criu_refusal(pid_t pid);

// What a round trip measured.
struct RoundTripFigures {
  double cold_start_ms = 0;      // start → first answered call
  double checkpoint_ms = 0;      // the CLI's checkpoint, to its exit
  double restore_ms = 0;         // the CLI's restore → first answered call
  double criu_restore_ms = 0;    // of which criu restore (restore --json)
  double pid_wait_ms = 0;        // … waiting for the dumped pids to be free
  double thaw_ms = 0;            // … Thaw of the reattached connections
  std::uintmax_t image_bytes = 0;
};

// The service on its bus: started, checkpointed, restored.  Each step
// throws RoundTripFailure when a check fails.
class ServiceRoundTrip {
 public:
  ServiceRoundTrip(DistributionBus &host, SystemService service);

  void cold_start();           // → first answered call, value and user checked
  void checkpoint();           // the service gone, its name frozen
  void restore();              // → first answered call, same name, pid, files
  void expect_signal_after_restore();
  void reconnect_admin();      // after the bus was restarted
  std::string summary() const; // the figures, one line

  const RoundTripFigures &figures() const { return figures_; }

  std::string unique_name;
  pid_t pid = 0;
  std::vector<pid_t> tree_pids;  // pid and its descendants, when dumped
  std::filesystem::path images;
  std::string checkpoint_output, restore_output;  // what the CLI printed

 private:
  CallResult answered_call();
  CommandResult cli(const std::vector<std::string> &arguments);

  DistributionBus &host_;
  SystemService service_;
  SdBus admin_;
  RoundTripFigures figures_;
  std::map<int, std::string> files_before_;
  std::optional<ChildProcess> process_;        // started here; reaped once dumped
  std::list<criu::RestoredProcess> restored_;  // the tree, as dumped
};

} // namespace dcp::test::system
