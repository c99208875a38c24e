// SPDX-License-Identifier: GPL-2.0-or-later
// Does this CRIU work on this machine?  `criu check` cannot tell (CRIU 4.1.1
// says "Looks good" and then hangs in every dump here), so the probe does
// what we need CRIU for: it dumps and restores a small test process -- a
// session leader holding a unix socketpair and a UDP socket -- under one time
// limit, and checks that the restored process still answers over both.
//
// Used by the configure step (to choose the system's CRIU or build one), by
// the first ctest, and by `dcp-criu-probe` for administrators.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "criu-probe/criu_output.hpp"

namespace dbus_checkpoint::criu {

struct ProbeOptions {
  std::string executable;                     // criu to probe
  std::chrono::milliseconds time_limit{20'000};
  std::filesystem::path work_dir;             // scratch dir made below it ("" = $TMPDIR or /tmp)
  bool keep_images = false;                   // keep the scratch dir (always kept on failure)
  // What a user should do when this CRIU does not work, appended to the
  // failure (e.g. "use -DDCP_CRIU=BUILD").
  std::string advice;
};

struct ProbeResult {
  bool works = false;
  std::optional<Version> version;
  // Success: what was measured.  Failure: what happened, what to do, and
  // CRIU's errors and the end of its log.
  std::string message;
  std::chrono::milliseconds dump_time{0};
  std::chrono::milliseconds restore_time{0};
  std::chrono::milliseconds total_time{0};
  std::filesystem::path images_dir;           // "" once removed
};

// Runs the probe.  Needs root (CRIU does).  Never takes much longer than
// options.time_limit: a CRIU still running then is killed with its process
// group, and so is the test process.
ProbeResult probe(const ProbeOptions &options);

} // namespace dbus_checkpoint::criu
