// SPDX-License-Identifier: GPL-2.0-or-later
#include "distribution_bus.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <utility>

#include "private_bus.hpp"
#include "raw-bus/raw_bus.hpp"

namespace dcp::test::system {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kReadyMark = "/run/dcp-namespace-ready";

// The built system.conf as Debian's dbus runs its own: standard socket,
// <user>messagebus</user>, standard service dirs and Debian's launch helper
// stay (--nofork and --nopidfile win over <fork/> and <pidfile>); logging
// goes to stderr (there is no syslog here) and the policies are the
// packages' own in /usr/share/dbus-1/system.d, nothing of this machine's
// /etc.
std::string distribution_config()
{
  const std::string built = built_system_conf_path();
  std::string config = read_file(built);
  for (const char *required : {"<listen>unix:path=/run/dbus/system_bus_socket</listen>",
                               "<user>messagebus</user>", "<includedir>system.d</includedir>",
                               "<checkpoint_dir>/var/lib/dbus/checkpoint</checkpoint_dir>"})
    if (config.find(required) == std::string::npos)
      throw std::runtime_error(built + " has no " + required);
  const std::pair<const char *, const char *> rewrites[] = {
      {R"(<syslog/>)", ""},
      {R"(<include[^>]*>/etc/[^<]*</include>)", ""},
      {R"(<includedir>/etc/[^<]*</includedir>)", ""},
      {R"(<includedir>system.d</includedir>)", "<includedir>/usr/share/dbus-1/system.d</includedir>"},
  };
  for (const auto &[pattern, replacement] : rewrites)
    config = std::regex_replace(config, std::regex(pattern), replacement);
  return config;
}

// The holder's script: the mounts, then sleep.  A scratch directory takes
// the owner and mode of the directory it covers.
std::string holder_script(const fs::path &scratch)
{
  std::string script = "set -e; ip link set lo up\n"
                       "mount -t tmpfs -o mode=0755 dcp-system-run /run\n"
                       "mkdir /run/dbus\n"
                       "mount -t tmpfs -o mode=0755 dcp-system-run-dbus /run/dbus\n";
  const std::pair<const char *, const char *> binds[] = {
      {"/var/lib/dbus", "var-lib-dbus"},
      {"/var/lib/AccountsService", "accounts-service"},
      {"/var/lib/AccountsService/users", "accounts-service/users"},
      {"/var/lib/AccountsService/icons", "accounts-service/icons"},
      {"/etc/polkit-1/rules.d", "polkit-rules.d"},
  };
  for (const auto &[target, name] : binds) {
    const std::string dir = (scratch / name).string();
    script += std::string("mkdir -p ") + dir + "; chown --reference=" + target + " " + dir +
              "; chmod --reference=" + target + " " + dir + "\n";
  }
  // The machine's id stays what it is (the daemon reads it there).
  script += "[ ! -e /var/lib/dbus/machine-id ] || cp -a /var/lib/dbus/machine-id " +
            (scratch / "var-lib-dbus").string() + "/\n";
  for (const auto &[target, name] : binds)
    if (std::strchr(name, '/') == nullptr)  // subdirectories come with their parent
      script += std::string("mount --bind ") + (scratch / name).string() + " " + target + "\n";
  script += "mkdir " + kCheckpointDir.string() + "; chown messagebus:messagebus " +
            kCheckpointDir.string() + "; chmod 0700 " + kCheckpointDir.string() + "\n";
  script += "touch " + kReadyMark.string() + "\nexec sleep infinity\n";
  return script;
}

bool socket_accepts(const fs::path &path)
{
  dbus_checkpoint::raw_bus::UniqueFd connected;
  return static_cast<bool>(dbus_checkpoint::raw_bus::connect_unix_stream(path, connected));
}

std::string link_target(const fs::path &link)
{
  std::error_code error;
  fs::path target = fs::read_symlink(link, error);
  return error ? "" : target.string();
}

} // namespace

DistributionBus::DistributionBus()
{
  char pattern[] = "/tmp/dcp-system-XXXXXX";
  if (!mkdtemp(pattern))
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = pattern;
  ::chmod(dir_.c_str(), 0755);  // services running as their own users read their logs' dir
  fs::create_directory(dir_ / "scratch");
  holder_ = ChildProcess({"setpriv", "--pdeathsig", "KILL", "unshare", "--mount", "--net",
                          "--propagation", "private", "--", "sh", "-c",
                          holder_script(dir_ / "scratch")},
                         (dir_ / "namespace.log").string());
  if (!wait_until([&] { return fs::exists(outside(kReadyMark)) || !holder_.running(); }, 10s) ||
      !holder_.running())
    throw std::runtime_error("the namespace did not come up: " + read_file(dir_ / "namespace.log"));
  std::ofstream(dir_ / "system.conf") << distribution_config();
  start();
}

DistributionBus::~DistributionBus()
{
  kill_namespace_processes();
  daemon_.stop(5s);
  holder_.kill_hard();
  std::error_code ignored;
  if (!std::getenv("DCP_TEST_KEEP_BUS_DIR"))
    fs::remove_all(dir_, ignored);
}

void DistributionBus::kill_namespace_processes()
{
  if (holder_.pid() <= 0)
    return;
  const std::string namespace_id = link_target(fs::path("/proc") / std::to_string(holder_.pid()) / "ns/mnt");
  if (namespace_id.empty())
    return;
  std::vector<pid_t> inside;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t pid = std::stoi(name);
    if (pid != holder_.pid() && pid != daemon_.pid() &&
        link_target(entry.path() / "ns/mnt") == namespace_id)
      inside.push_back(pid);
  }
  for (pid_t pid : inside)
    ::kill(pid, SIGKILL);
  for (pid_t pid : inside)
    wait_until([&] {
      ::waitpid(pid, nullptr, WNOHANG);  // ours if this test is their subreaper
      return !fs::exists(fs::path("/proc") / std::to_string(pid));
    }, 10s);
}

CommandPrefix DistributionBus::enter() const
{
  return {"nsenter", "--target", std::to_string(holder_.pid()), "--net", "--mount", "--",
          "env", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + kSystemBusSocket.string()};
}

fs::path DistributionBus::outside(const fs::path &inside) const
{
  return fs::path("/proc") / std::to_string(holder_.pid()) / "root" / inside.relative_path();
}

SdBus DistributionBus::open_bus() const
{
  sd_bus *raw = nullptr;
  if (sd_bus_new(&raw) < 0)
    throw std::runtime_error("sd_bus_new failed");
  SdBus bus(raw);
  const std::string address = "unix:path=" + outside(kSystemBusSocket).string();
  const char *unique_name = nullptr;  // waits for Hello's reply
  if (sd_bus_set_address(bus.get(), address.c_str()) < 0 || sd_bus_set_bus_client(bus.get(), 1) < 0 ||
      sd_bus_start(bus.get()) < 0 || sd_bus_get_unique_name(bus.get(), &unique_name) < 0)
    throw std::runtime_error("cannot connect to " + address + "; daemon log:\n" + log());
  return bus;
}

std::string DistributionBus::log() const { return read_file(dir_ / "dbus-daemon.log"); }

// `argv` in the namespaces, stdin /dev/null and output appended to `log`,
// both opened inside: CRIU knows files on the namespace's mounts only (and
// what the bus activates inherits the daemon's stdout and stderr).
std::vector<std::string> DistributionBus::logged_inside(const std::vector<std::string> &argv,
                                                        const fs::path &log) const
{
  std::vector<std::string> command = enter();
  command.insert(command.end(), {"sh", "-c", R"(log=$1; shift; exec "$@" </dev/null >>"$log" 2>&1)",
                                 "sh", log.string()});
  command.insert(command.end(), argv.begin(), argv.end());
  return command;
}

ChildProcess DistributionBus::start_service(const std::vector<std::string> &argv,
                                            const std::string &log_name) const
{
  return ChildProcess(logged_inside(argv, dir_ / log_name), (dir_ / ("launch-" + log_name)).string(),
                      /*new_session=*/true);
}

CommandResult DistributionBus::run(const std::vector<std::string> &argv,
                                   std::chrono::milliseconds timeout) const
{
  std::vector<std::string> command = enter();
  command.insert(command.end(), argv.begin(), argv.end());
  return run_command(command, timeout);
}

void DistributionBus::kill_hard() { daemon_.kill_hard(); }

void DistributionBus::start()
{
  std::vector<std::string> command = logged_inside(
      {dbus_daemon_path(), "--config-file=" + (dir_ / "system.conf").string(), "--nofork", "--nopidfile"},
      dir_ / "dbus-daemon.log");
  command.insert(command.begin(), {"setpriv", "--pdeathsig", "KILL"});
  fs::remove(outside(kSystemBusSocket));
  // A session of its own, as systemd starts dbus.service: what the bus
  // activates shares it, and its leader is in our pid namespace (CRIU
  // refuses a task whose session leader is outside it).
  daemon_ = ChildProcess(command, (dir_ / "launch-dbus-daemon.log").string(), /*new_session=*/true);
  if (!wait_until([&] { return socket_accepts(outside(kSystemBusSocket)) || !daemon_.running(); }, 20s) ||
      !daemon_.running())
    throw std::runtime_error("the system bus did not start: " + log());
}

} // namespace dcp::test::system
