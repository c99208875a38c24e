// SPDX-License-Identifier: GPL-2.0-or-later
// The sample services (test/services/), one per client library, started on
// a PrivateSystemBus the way the checkpoint tests need them: as session
// leaders (CRIU restores a detached task only if it leads its session),
// output to a log in the bus's directory, ready once the service itself
// says so through its ready file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "private_bus.hpp"
#include "process.hpp"

namespace dcp::test {

enum class SampleKind { SdBus, PythonDbus, GDBus };

std::string to_string(SampleKind kind);  // "sd-bus", "python-dbus", "gdbus"
std::ostream &operator<<(std::ostream &out, SampleKind kind);
std::vector<SampleKind> all_sample_kinds();

// The services' fixed D-Bus names.
inline constexpr const char *kSampleDefaultName = "org.dbuscheckpoint.Sample";
inline constexpr const char *kSampleObjectPath = "/org/dbuscheckpoint/Sample";
inline constexpr const char *kSampleInterface = "org.dbuscheckpoint.Sample1";

// The command that runs a kind of service, without options
// (the Python ones run under Debian's /usr/bin/python3).
std::vector<std::string> sample_command(SampleKind kind);

struct SampleOptions {
  std::string name = kSampleDefaultName;   // --name
  unsigned init_ms = 0;                     // --init-ms
  unsigned heap_mb = 0;                     // --heap-mb
  std::vector<std::string> extra_arguments;
};

class SampleService {
 public:
  // Starts the service and waits for its ready file (30 s + init_ms);
  // throws with the service's log if it does not get ready.
  SampleService(SampleKind kind, const PrivateSystemBus &bus, SampleOptions options = {});
  SampleService(SampleService &&) = default;
  SampleService &operator=(SampleService &&) = default;

  SampleKind kind() const { return kind_; }
  const std::string &unique_name() const { return unique_name_; }
  const std::string &well_known_name() const { return options_.name; }
  pid_t pid() const { return process_.pid(); }
  const std::filesystem::path &log_path() const { return log_path_; }
  std::string log() const { return read_file(log_path_); }
  // From fork to the ready file appearing.
  std::chrono::milliseconds startup_time() const { return startup_time_; }

  bool running() { return process_.running(); }
  // Wait for the service to end by itself (e.g. after Quit); its wait
  // status, or nullopt on timeout (it then keeps running).
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after a grace period; the wait status.
  int stop() { return process_.stop(); }

 private:
  SampleKind kind_;
  SampleOptions options_;
  std::filesystem::path log_path_;
  std::string unique_name_;
  std::chrono::milliseconds startup_time_{0};
  ChildProcess process_;
};

// VmRSS of a process, in KiB (0 if it has none or is gone).
std::uint64_t resident_set_kib(pid_t pid);

// The sample's --heap-mb heap of `mb` MiB as read through /proc/PID/mem:
// in an anonymous rw-p mapping of at least mb MiB (malloc's mmap chunk, which
// the kernel may have merged with a neighbouring one), the vector's data 16
// bytes after a page start, known by the page numbers heap_mismatch expects
// at its pages 1..8.  Empty if there is no such mapping.
std::string heap_of(pid_t pid, unsigned mb);

// What the sample writes into its heap: the page's number (mod 256) at
// each page's start, zeros elsewhere.  Empty if it matches, else where not.
std::string heap_mismatch(const std::string &heap);

} // namespace dcp::test
