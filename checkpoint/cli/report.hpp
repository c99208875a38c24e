// SPDX-License-Identifier: GPL-2.0-or-later
// What the subcommands print: to people (a table, sentences on stderr) or,
// with --json, one JSON object on stdout.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bus-client/checkpoint_bus.hpp"
#include "cli/format.hpp"
#include "cli/in_place.hpp"
#include "cli/json.hpp"

namespace dbus_checkpoint::cli {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Output {
  bool json = false;
  std::ostream &data;    // stdout: ids, the list, JSON
  std::ostream &report;  // stderr: what was done and how long it took; errors
};

// A frozen connection as `list` shows it, with what freeze --in-place
// stopped (if anything).
struct ListedConnection {
  bus_client::FrozenConnection connection;
  std::optional<StoppedTree> stopped;
};

// Prints "dbus-checkpoint: COMMAND: ERROR" (and, with --json, the error as
// JSON on stdout); returns kExitFailure.
int report_failure(const Output &output, const std::string &command,
                   const base::Error &error);

enum class Transition { Stop, Resume };
// "pid 41 (processes 41, 42) with SIGSTOP" (SIGCONT to resume), or
// "... with the cgroup freezer (DIR)".
std::string describe(const StoppedTree &stopped, Transition transition);
// {"method":..,"owner":..,"cgroup":..,"pids":[..]}
Json stopped_json(const StoppedTree &stopped);
Json stopped_json(const std::optional<StoppedTree> &stopped);  // null if none

// `now_usec`: CLOCK_REALTIME, for the ages.
std::string format_frozen_table(const std::vector<ListedConnection> &listed,
                                std::int64_t now_usec);
Json frozen_list_json(const std::vector<ListedConnection> &listed, std::int64_t now_usec);

} // namespace dbus_checkpoint::cli
