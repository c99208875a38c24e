#include "cli/criu_steps.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "cli/child_process.hpp"
#include "cli/files.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::Error;
using bus_client::errno_error;
using bus_client::Result;

constexpr const char *kStandardSystemBus = "unix:path=/run/dbus/system_bus_socket";
// CRIU is given this long before it is killed.
constexpr std::chrono::minutes kCriuTimeout{2};

bool holds_a_plugin(const fs::path &dir)
{
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == ".so" && entry.is_regular_file(error))
      return true;
  return false;
}

// CRIU's own error reports (pr_err: "Error (file.c:line): ..."), which may
// be far above the end of a -v4 log; the last kLogErrorLines of them but
// the one CRIU always prints here and that does no harm.
std::string criu_errors(const std::string &log)
{
  constexpr const char *kHarmless = "Can't setup RLIMIT_NOFILE";
  std::istringstream lines(log);
  std::string reports;
  for (std::string line; std::getline(lines, line);)
    if (line.find("Error (") != std::string::npos && line.find(kHarmless) == std::string::npos)
      reports += line + "\n";
  return last_lines(reports, kLogErrorLines, "  ");
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
                                   const bus_client::BusAddress &bus)
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
  return CriuSetup{executable, plugins.lexically_normal(), bus};
}

std::string bus_address_in_use(const bus_client::BusAddress &bus)
{
  if (!bus.address.empty())
    return bus.address;
  const char *from_environment = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return from_environment && *from_environment ? from_environment : kStandardSystemBus;
}

Result<Clock::duration> run_criu(const CriuSetup &setup, const std::string &action,
                                 const fs::path &images_dir,
                                 const std::vector<std::string> &extra_arguments)
{
  const std::string log_name = action + ".log";
  ProgramCommand command;
  command.argv = {setup.executable,  action, "-D", images_dir.string(), "-L",
                  setup.plugin_dir.string(), "-v4", "-o", log_name};
  command.argv.insert(command.argv.end(), extra_arguments.begin(), extra_arguments.end());
  command.environment["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address_in_use(setup.bus);
  command.timeout = kCriuTimeout;

  const auto started = Clock::now();
  auto run = run_program(command);
  const auto elapsed = Clock::now() - started;
  if (!run)
    return run.error();
  if (run.value().succeeded())
    return elapsed;

  std::string message = "criu " + action + " failed (" + run.value().describe_end(kCriuTimeout) +
                        ")";
  struct statvfs space{};
  if (::statvfs(images_dir.c_str(), &space) == 0 && space.f_bavail == 0)
    message += ": no space left in " + images_dir.string();
  const fs::path log_path = images_dir / log_name;
  auto log = read_whole_file(log_path);
  if (log && !log.value().empty()) {
    const std::string errors = criu_errors(log.value());
    const std::string tail = last_lines(log.value(), kLogTailLines, "  ");
    if (!errors.empty() && tail.find(errors) == std::string::npos)
      message += "; errors in " + log_path.string() + ":\n" + errors + "and its";
    else
      message += "; the";
    message += " last lines of " + log_path.string() + ":\n" + tail;
  } else if (!run.value().output.empty()) {
    message += "; it wrote no " + log_path.string() + ", its output:\n" +
               last_lines(run.value().output, kLogTailLines, "  ");
  }
  if (message.ends_with('\n'))
    message.pop_back();
  return Error{"", message};
}

Result<CriuSetup> check_root_and_criu(const std::string &command, const std::string &why_root,
                                      const std::string &executable, const std::string &plugin_dir,
                                      const bus_client::BusAddress &bus)
{
  if (::geteuid() != 0)
    return Error{"", command + " must run as root (" + why_root + "); this is uid " +
                         std::to_string(::geteuid())};
  return check_criu_setup(executable, plugin_dir, bus);
}

std::vector<std::string> thaw_connections(bus_client::CheckpointBus &bus,
                                          const std::vector<ManifestConnection> &connections)
{
  std::vector<std::string> failures;
  for (const ManifestConnection &connection : connections)
    if (auto thawed = bus.thaw(connection.id); !thawed)
      failures.push_back(connection.id + " (" + connection.unique_name +
                         "): " + thawed.error().describe());
  return failures;
}

std::string connection_table(const std::vector<ManifestConnection> &connections)
{
  std::vector<TableRow> rows;
  for (const ManifestConnection &connection : connections)
    rows.push_back({"", connection.unique_name,
                    connection.names.empty() ? "-" : join(connection.names, ","),
                    connection.id, std::to_string(connection.pid)});
  return rows.empty() ? "" : format_table({"", "UNIQUE NAME", "NAMES", "CHECKPOINT", "PID"}, rows);
}

std::string count_connections(std::size_t count)
{
  return std::to_string(count) + (count == 1 ? " bus connection" : " bus connections");
}

} // namespace dbus_checkpoint::cli
