// SPDX-License-Identifier: GPL-2.0-or-later
// What the CRIU end-to-end tests share: running CRIU with our plugin,
// waiting for a dumped process to be gone, owning what CRIU restored, and
// the dump-then-restore sequence on one bus (CheckpointedService).
//
// A restored process is CRIU's child, then (CRIU exits with -d) its
// nearest child subreaper's: each test module makes itself one with
// BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper), so that it can reap what it
// restored and never leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/files.hpp"
#include "bus_client.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "sample_service.hpp"

namespace dcp::test::criu {

struct BecomeSubreaper {
  BecomeSubreaper();
};

// A temporary directory /tmp/PREFIX-XXXXXX for a test's logs, images and
// configs, removed with what is in it (kept when DCP_TEST_KEEP_BUS_DIR is
// set).
class WorkDir {
 public:
  explicit WorkDir(const std::string &prefix);
  WorkDir(const WorkDir &) = delete;
  WorkDir &operator=(const WorkDir &) = delete;
  ~WorkDir();
  const std::filesystem::path &path() const { return path_; }

 private:
  std::filesystem::path path_;
};

bool process_exists(pid_t pid);
// Gone from /proc: reaped if it was ours, by whoever else otherwise.
bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout);

// A process CRIU restored: SIGKILLed and gone when this goes.
class RestoredProcess {
 public:
  // A pid above 0: kill(-1) at the end would end every process root may
  // signal (a reaped ChildProcess's pid() is -1).
  explicit RestoredProcess(pid_t pid) : pid_(pid)
  {
    if (pid <= 0)
      throw std::invalid_argument("RestoredProcess: no process " + std::to_string(pid));
  }
  RestoredProcess(const RestoredProcess &) = delete;
  RestoredProcess &operator=(const RestoredProcess &) = delete;
  ~RestoredProcess();

 private:
  pid_t pid_;
};

// The last lines of a log, for assertion messages.
std::string tail_of(const std::filesystem::path &log, std::size_t n_lines = 30);
// Bytes of the images in dir (base::image_bytes: CRIU's logs left out).
inline std::uintmax_t directory_bytes(const std::filesystem::path &dir)
{
  return dbus_checkpoint::base::image_bytes(dir);
}

struct CriuRun {
  CommandResult result;
  std::chrono::milliseconds wall{0};
};

// CRIU with our plugin (-L) and its log in the images directory.  `enter`
// prefixes the command line (e.g. nsenter into a network and mount
// namespace): CRIU then runs, and finds images, in those namespaces.
using CommandPrefix = std::vector<std::string>;
CriuRun criu_dump(pid_t pid, const std::filesystem::path &images, const CommandPrefix &enter = {});
CriuRun criu_restore(const std::filesystem::path &images, const CommandPrefix &enter = {});

std::string name_owner(sd_bus *bus, const std::string &name);
void emit_poke(sd_bus *bus);  // the sample services count Pokes (a match rule)
SampleOptions named(const std::string &name);

// After Thaw, for a service whose counter was 2 when it was dumped: the
// counter goes on (3), the same connection (unique_name) owns `name`, and
// its match rule still delivers (one Poke).
void expect_service_continues(sd_bus *bus, const std::string &name, const std::string &unique_name);

// Dumps the frozen service, checks it is gone and detached, restores it
// and checks it is attached again (still frozen).  Holds the restored
// process, killed when this goes.
struct CheckpointedService {
  // while_dumped runs when the process is gone, before the restore; it may
  // replace admin (say, after restarting the bus).
  CheckpointedService(SampleService &service, PrivateSystemBus &bus, SdBus &admin,
                      const std::string &checkpoint_id,
                      const std::function<void()> &while_dumped = {});

  std::filesystem::path images;
  CriuRun dump;
  CriuRun restore;
  std::uintmax_t image_bytes = 0;
  std::optional<RestoredProcess> restored;
};

} // namespace dcp::test::criu
