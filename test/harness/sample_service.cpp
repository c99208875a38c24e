// SPDX-License-Identifier: GPL-2.0-or-later
#include "sample_service.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>

namespace dcp::test {
namespace {

std::string trim_newline(std::string text)
{
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

} // namespace

std::string to_string(SampleKind kind)
{
  switch (kind) {
  case SampleKind::SdBus: return "sd-bus";
  case SampleKind::PythonDbus: return "python-dbus";
  case SampleKind::GDBus: return "gdbus";
  }
  return "unknown";
}

std::ostream &operator<<(std::ostream &out, SampleKind kind) { return out << to_string(kind); }

std::vector<SampleKind> all_sample_kinds()
{
  return {SampleKind::SdBus, SampleKind::PythonDbus, SampleKind::GDBus};
}

std::vector<std::string> sample_command(SampleKind kind)
{
  switch (kind) {
  case SampleKind::SdBus: return {DCP_SAMPLE_SDBUS};
  case SampleKind::PythonDbus: return {DCP_SYSTEM_PYTHON3, DCP_SAMPLE_PYTHON_DBUS};
  case SampleKind::GDBus: return {DCP_SYSTEM_PYTHON3, DCP_SAMPLE_GDBUS};
  }
  throw std::invalid_argument("unknown SampleKind");
}

SampleService::SampleService(SampleKind kind, const PrivateSystemBus &bus, SampleOptions options)
    : kind_(kind), options_(std::move(options))
{
  const std::string stem = "sample-" + options_.name;
  log_path_ = bus.dir() / (stem + ".log");
  const std::filesystem::path ready_file = bus.dir() / (stem + ".ready");
  std::filesystem::remove(ready_file);

  std::vector<std::string> argv = sample_command(kind);
  argv.insert(argv.end(), {"--name", options_.name, "--init-ms", std::to_string(options_.init_ms),
                           "--heap-mb", std::to_string(options_.heap_mb), "--ready-file",
                           ready_file.string()});
  argv.insert(argv.end(), options_.extra_arguments.begin(), options_.extra_arguments.end());

  auto started = std::chrono::steady_clock::now();
  process_ = ChildProcess(argv, log_path_.string(), /*new_session=*/true);
  bool ready = wait_until(
      [&] { return std::filesystem::exists(ready_file) || !process_.running(); },
      std::chrono::seconds(30) + std::chrono::milliseconds(options_.init_ms));
  startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (!ready || !std::filesystem::exists(ready_file)) {
    std::string why = !ready ? "did not get ready in time" : "exited before getting ready";
    process_.kill_hard();
    throw std::runtime_error(to_string(kind) + " sample service " + options_.name + " " + why +
                             "; its log:\n" + log());
  }
  unique_name_ = trim_newline(read_file(ready_file.string()));
}

std::optional<int> SampleService::wait_for_exit(std::chrono::milliseconds timeout)
{
  // WNOWAIT leaves the zombie for ChildProcess to reap, with its status.
  bool exited = wait_until([&] {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(process_.pid()), &info,
                  WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == process_.pid();
  }, timeout);
  if (!exited)
    return std::nullopt;
  return process_.stop();  // a zombie ignores SIGTERM: this only reaps it
}

std::uint64_t resident_set_kib(pid_t pid)
{
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoull(line.substr(6));
  }
  return 0;
}

std::string heap_of(pid_t pid, unsigned mb)
{
  const std::uint64_t size = std::uint64_t{mb} << 20;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::uint64_t start = 0, end = 0;
    char perms[5] = {};
    unsigned long long offset = 0, inode = 1;
    char device[16] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %llx %15s %llu", &start, &end, perms, &offset,
                    device, &inode) != 6 ||
        inode != 0 || std::string(perms) != "rw-p" || end - start < size + 16)
      continue;
    std::ifstream mem("/proc/" + std::to_string(pid) + "/mem", std::ios::binary);
    mem.seekg(static_cast<std::streamoff>(start));
    std::string mapping(end - start, '\0');
    if (!mem.read(mapping.data(), static_cast<std::streamsize>(mapping.size())))
      continue;
    for (std::uint64_t page = 0; page + 16 + size <= mapping.size(); page += 4096) {
      bool numbered = true;
      for (unsigned k = 1; k <= 8 && numbered; ++k)
        numbered = static_cast<unsigned char>(mapping[page + 16 + 4096 * k]) == k;
      if (numbered)
        return mapping.substr(page + 16, size);
    }
  }
  return {};
}

std::string heap_mismatch(const std::string &heap)
{
  for (std::size_t offset = 0; offset < heap.size(); ++offset) {
    const auto expected =
        static_cast<unsigned char>(offset % 4096 == 0 ? (offset >> 12) & 0xff : 0);
    if (static_cast<unsigned char>(heap[offset]) != expected)
      return "byte " + std::to_string(offset) + " is " +
             std::to_string(static_cast<unsigned char>(heap[offset])) + ", not " +
             std::to_string(expected);
  }
  return {};
}

} // namespace dcp::test
