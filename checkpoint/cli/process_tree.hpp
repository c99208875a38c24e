// SPDX-License-Identifier: GPL-2.0-or-later
// Processes as /proc shows them: one process, or a process and all its
// descendants.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

// A process, told apart from a later one with the same pid by its start
// time (clock ticks after boot, /proc/PID/stat field 22).
struct ProcessId {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  bool operator==(const ProcessId &) const = default;
};

struct ProcessInfo {
  ProcessId id;
  pid_t parent = 0;
  char state = '?';  // R, S, D, T (stopped), t (traced), Z, ...
};

// Parses a /proc/PID/stat line; nullopt if it is malformed.
std::optional<ProcessInfo> parse_proc_stat(const std::string &stat_line);

// The process now; nullopt if there is none with that pid.
std::optional<ProcessInfo> read_process(pid_t pid);

// True if `id` is still the same running process (not gone, not reused).
bool is_alive(const ProcessId &id);

// `root` first, then its descendants, parents before children.
base::Result<std::vector<ProcessInfo>> process_tree(pid_t root);

// Polls until every process is in state T (or gone); false on timeout.
bool wait_until_stopped(const std::vector<ProcessId> &processes,
                        std::chrono::milliseconds timeout);

// /proc/PID/comm without its newline; "" if there is no such process.
std::string process_name(pid_t pid);

// True while /proc/PID exists (a zombie included: its pid is not free).
bool pid_in_use(pid_t pid);

// Polls until no pid of `pids` is in use; returns those still in use at
// the timeout (empty: all gone).
std::vector<pid_t> wait_until_gone(const std::vector<pid_t> &pids,
                                   std::chrono::milliseconds timeout);

// The hex mask after "KEY:" on its line of /proc/PID/status text (SigPnd,
// CapEff, ...); 0 if the line is absent or not hex.
std::uint64_t proc_status_mask(const std::string &status_text, const std::string &key);

// Signals that will end the process as soon as it runs: pending (for the
// thread or the process), not blocked, neither ignored nor caught, and
// terminating by default (SIGCHLD, SIGCONT, SIGURG, SIGWINCH and the stop
// signals are not).  From /proc/PID/status text (SigPnd, ShdPnd, SigBlk,
// SigIgn, SigCgt); bit n-1 is signal n.
std::uint64_t fatal_signals_pending(const std::string &status_text);
// The same for a process now; 0 if there is none.
std::uint64_t fatal_signals_pending(pid_t pid);

} // namespace dbus_checkpoint::cli
