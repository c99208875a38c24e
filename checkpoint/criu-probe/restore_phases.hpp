// SPDX-License-Identifier: GPL-2.0-or-later
// Where the milliseconds of a `criu restore -v4` go, read from the
// timestamps of its log ("(00.012345) ..." lines, seconds since CRIU
// started logging), for the restore report and the benchmark.
#pragma once

#include <string>
#include <vector>

namespace dbus_checkpoint::criu {

struct Phase {
  std::string name;
  double ms = 0;
};

// The phases of a restore log, in order:
//   "start-up"         log start -> the line before the first plugin loads
//                      (options, kernel features or their cache, images)
//   "plugin load"      dlopen of the plugins
//   "fork, files"      -> the first socket hook of our plugin
//   "reattach"         our plugin's hooks, summed (connect, Reattach)
//   "memory, restorer" the rest -> "Restore finished successfully"
//   "finish"           -> the last line (stats, post-resume scripts)
// A phase whose markers are missing is left out; an empty result means
// the log has no timestamps (not -v4, or not a restore log).
std::vector<Phase> restore_phases(const std::string &log_text);

// The whole log's span: the sum of the phases.
double logged_ms(const std::vector<Phase> &phases);

// "start-up 5.2, plugin load 23.6, ... ms"
std::string describe_phases(const std::vector<Phase> &phases);

} // namespace dbus_checkpoint::criu
