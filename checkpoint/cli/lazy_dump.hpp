// SPDX-License-Identifier: GPL-2.0-or-later
// migrate's dump: criu dump --lazy-pages writes everything but the memory
// pages into DIR, then serves the pages from its page server until the
// destination's criu lazy-pages has fetched them all; only then does it
// end the dumped process (a transfer that fails resumes it instead).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/child_process.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cli/criu_steps.hpp"
#include "cli/format.hpp"

namespace dbus_checkpoint::cli {

// criu dump --lazy-pages, its images written and its page server listening.
struct ServingDump {
  base::ChildProcess criu;
  Clock::time_point started;
  Clock::duration until_serving{};  // start -> page server listening
};

// Starts `criu dump ARGUMENTS --lazy-pages --address ADDRESS --port PORT`
// in DIR (log DIR/dump.log) and waits until it serves (its --status-fd)
// or ends: then an error with its log's end.  Bounded by setup.timeout.
base::Result<ServingDump> dump_serving_pages(const CriuSetup &setup,
                                             const std::filesystem::path &dir,
                                             std::vector<std::string> arguments,
                                             const std::string &address, std::uint16_t port);

// Waits, up to setup.timeout from the dump's start, for criu to end:
// success once the destination fetched every page (criu has ended the
// process).  Otherwise an error with its log's end; criu resumed the
// process (it is killed at the time-out, which resumes it too).
base::Result<Clock::duration> wait_until_pages_fetched(ServingDump &dump, const CriuSetup &setup,
                                                       const std::filesystem::path &dir);

} // namespace dbus_checkpoint::cli
