// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/criu_steps.hpp"

#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "base/program.hpp"
#include "bus-client/process_buses.hpp"
#include "cli/criu_version_cache.hpp"
#include "cli/files.hpp"
#include "cli/stop_record.hpp"
#include "criu-probe/criu_output.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::errno_error;
using base::last_lines;
using base::ProgramCommand;
using base::Result;
using base::run_program;

constexpr const char *kStandardSystemBus = "unix:path=/run/dbus/system_bus_socket";

bool holds_a_plugin(const fs::path &dir)
{
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == ".so" && entry.is_regular_file(error))
      return true;
  return false;
}

struct CriuVersion {
  std::string version;
  std::vector<std::string> patch_features;
};

// What `criu --version` printed, from the cache if this executable was
// asked before (criu_version_cache.hpp), else by running it.
Result<std::string> criu_version_output(const std::string &executable)
{
  if (auto kept = cached_criu_version(stop_record_dir(), executable))
    return *kept;
  ProgramCommand command;
  command.argv = {executable, "--version"};
  command.timeout = kCriuVersionTimeout;
  auto run = run_program(command);
  if (!run)
    return run.error();
  if (!run.value().succeeded())
    return Error{"", "'" + executable + " --version' failed (" +
                         run.value().describe_end(kCriuVersionTimeout) +
                         "): this CRIU cannot be used (--criu PATH chooses another)"};
  if (criu::parse_version(run.value().output))
    keep_criu_version(stop_record_dir(), executable, run.value().output);
  return run.value().output;
}

// `criu --version` answers within kCriuVersionTimeout with 4.2 or newer:
// the version and what our patches changed, or why this CRIU is not used.
Result<CriuVersion> check_criu_version(const std::string &executable)
{
  auto output = criu_version_output(executable);
  if (!output)
    return output.error();
  auto version = criu::parse_version(output.value());
  if (!version) {
    std::string said = last_lines(output.value(), 1);
    if (!said.empty())
      said.pop_back();
    return Error{"", "'" + executable + " --version' printed no version ('" + said +
                         "'): is it CRIU? (--criu PATH chooses another)"};
  }
  if (std::string too_old = criu::why_too_old(*version); !too_old.empty())
    return Error{"", executable + ": " + too_old + "; give --criu PATH with CRIU >= 4.2"};
  return CriuVersion{version->str(), criu::parse_patch_features(output.value())};
}

std::string join(const std::vector<std::string> &items, const char *separator)
{
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
}

} // namespace

Result<CriuSetup> check_criu_setup(const std::string &executable, const std::string &plugin_dir,
                                   const bus_client::BusAddress &bus, std::chrono::seconds timeout)
{
  if (executable.empty() || ::access(executable.c_str(), X_OK) < 0)
    return errno_error("cannot run CRIU at '" + executable + "' (--criu PATH chooses another)",
                       executable.empty() ? ENOENT : errno);
  std::error_code error;
  fs::path plugins = fs::absolute(plugin_dir, error);
  if (error || !fs::is_directory(plugins, error))
    return Error{"", "the CRIU plugin directory " + plugin_dir +
                         " does not exist (build the dcp_criu_plugin target, or give "
                         "--plugin-dir DIR)"};
  if (!holds_a_plugin(plugins))
    return Error{"", "no CRIU plugin (*.so) in " + plugins.string() +
                         " (build the dcp_criu_plugin target, or give --plugin-dir DIR)"};
  auto version = check_criu_version(executable);
  if (!version)
    return version.error();
  return CriuSetup{executable, plugins.lexically_normal(), bus, timeout, version.value().version,
                   version.value().patch_features, {}};
}

std::string bus_address_in_use(const bus_client::BusAddress &bus)
{
  if (!bus.address.empty())
    return bus.address;
  const char *from_environment = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return from_environment && *from_environment ? from_environment : kStandardSystemBus;
}

namespace {

// `criu ACTION -D DIR -L PLUGIN_DIR -v4 -o - EXTRA...` as run_criu and
// start_criu run it.
ProgramCommand criu_command(const CriuSetup &setup, const std::string &action,
                            const fs::path &images_dir,
                            const std::vector<std::string> &extra_arguments, bool in_new_session,
                            pid_t in_namespaces_of)
{
  ProgramCommand command;
  command.argv = {setup.executable, action, "-D", in_namespaces_of ? "." : images_dir.string(),
                  "-L", setup.plugin_dir.string(), "-v4", "-o", "-"};
  if (in_namespaces_of) {
    command.namespaces_of = in_namespaces_of;
    command.working_directory = images_dir;
  }
  command.argv.insert(command.argv.end(), extra_arguments.begin(), extra_arguments.end());
  command.environment["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address_in_use(setup.bus);
  std::string sockets;
  if (const char *given = std::getenv("DBUS_CHECKPOINT_BUS_SOCKETS"))
    sockets = given;
  for (const std::string &address : setup.other_bus_addresses)
    for (const std::string &path : bus_client::unix_paths_of_address(address))
      sockets += (sockets.empty() ? "" : ":") + path;
  if (!sockets.empty())
    command.environment["DBUS_CHECKPOINT_BUS_SOCKETS"] = sockets;
  command.timeout = setup.timeout;
  command.new_session = in_new_session;
  return command;
}

} // namespace

Result<base::ChildProcess> start_criu(const CriuSetup &setup, const std::string &action,
                                      const fs::path &images_dir,
                                      const std::vector<std::string> &extra_arguments,
                                      bool in_new_session, int status_fd)
{
  ProgramCommand command = criu_command(setup, action, images_dir, extra_arguments, in_new_session, 0);
  command.status_fd = status_fd;
  return base::start_program(command, images_dir / (action + ".log"));
}

Result<Clock::duration> run_criu(const CriuSetup &setup, const std::string &action,
                                 const fs::path &images_dir,
                                 const std::vector<std::string> &extra_arguments,
                                 bool in_new_session, pid_t in_namespaces_of)
{
  const ProgramCommand command =
      criu_command(setup, action, images_dir, extra_arguments, in_new_session, in_namespaces_of);
  const auto started = Clock::now();
  auto run = run_program(command);
  const auto elapsed = Clock::now() - started;
  if (!run)
    return run.error();
  const fs::path log_path = images_dir / (action + ".log");
  auto log_saved = replace_file(log_path, run.value().output, 0600);
  if (run.value().succeeded())
    return elapsed;

  std::string message = "criu " + action + " failed (" + run.value().describe_end(setup.timeout) +
                        ")";
  if (run.value().timed_out)
    message += ": criu " + setup.version + " did not finish within --criu-timeout";
  struct statvfs space{};
  if (::statvfs(images_dir.c_str(), &space) == 0 && space.f_bavail == 0)
    message += ": no space left in " + images_dir.string();
  const std::string described = criu::describe_log(
      run.value().output, log_saved ? log_path.string() : "its output", kLogErrorLines,
      kLogTailLines);
  if (!described.empty())
    message += described;
  else if (!run.value().output.empty())
    message += "; its log:\n" + last_lines(run.value().output, kLogTailLines, "  ");
  else
    message += "; it wrote no log and no output";
  if (!log_saved)
    message += "\n(cannot write " + log_path.string() + ": " + log_saved.error().message + ")";
  if (message.ends_with('\n'))
    message.pop_back();
  return Error{"", message};
}

std::string describe_wait_status(int status)
{
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  if (WIFEXITED(status))
    return "exit status " + std::to_string(WEXITSTATUS(status));
  return "wait status " + std::to_string(status);
}

void prepare_kdat_cache(const CriuSetup &setup)
{
  std::error_code error;
  if (fs::exists(kCriuKdatCache, error))
    return;
  ProgramCommand command;
  command.argv = {setup.executable, "check"};  // it fails on features we do not need
  command.timeout = std::chrono::seconds(20);
  (void)run_program(command);
}

std::string kdat_cache_command(const std::string &criu)
{
  return std::string("/bin/sh -c 'test -e ") + kCriuKdatCache + " || exec " + criu +
         " check >/dev/null 2>&1'";
}

Result<CriuSetup> check_root_and_criu(const std::string &command, const std::string &why_root,
                                      const std::string &executable, const std::string &plugin_dir,
                                      const bus_client::BusAddress &bus,
                                      std::chrono::seconds timeout)
{
  if (::geteuid() != 0)
    return Error{"", command + " must run as root (" + why_root + "); this is uid " +
                         std::to_string(::geteuid())};
  return check_criu_setup(executable, plugin_dir, bus, timeout);
}

std::vector<std::string> for_each_connection(
    const std::vector<ManifestConnection> &connections,
    const std::function<base::Status(const std::string &checkpoint_id)> &action)
{
  std::vector<std::string> failures;
  for (const ManifestConnection &connection : connections)
    if (base::Status done = action(connection.id); !done)
      failures.push_back(connection.id + " (" + connection.unique_name +
                         "): " + done.error().describe());
  return failures;
}

std::vector<std::string> thaw_connections(bus_client::CheckpointBus &bus,
                                          const std::vector<ManifestConnection> &connections)
{
  return for_each_connection(connections, [&](const std::string &id) { return bus.thaw(id); });
}

std::string connection_table(const std::vector<ManifestConnection> &connections)
{
  // A BUS column only when a connection is on another bus than the
  // command's own (a session bus found in the processes' environment).
  const bool other_buses = std::any_of(connections.begin(), connections.end(),
                                       [](const ManifestConnection &c) { return !c.bus.empty(); });
  std::vector<TableRow> rows;
  for (const ManifestConnection &connection : connections) {
    rows.push_back({"", connection.unique_name,
                    connection.names.empty() ? "-" : join(connection.names, ","),
                    connection.id, std::to_string(connection.pid)});
    if (other_buses)
      rows.back().push_back(connection.bus.empty() ? "-" : connection.bus);
  }
  TableRow header{"", "UNIQUE NAME", "NAMES", "CHECKPOINT", "PID"};
  if (other_buses)
    header.push_back("BUS");
  return rows.empty() ? "" : format_table(header, rows);
}

std::string count_connections(std::size_t count)
{
  return std::to_string(count) + (count == 1 ? " bus connection" : " bus connections");
}

} // namespace dbus_checkpoint::cli
