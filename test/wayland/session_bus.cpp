// SPDX-License-Identifier: GPL-2.0-or-later
#include "session_bus.hpp"

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

#include "cli/process_tree.hpp"
#include "private_bus.hpp"

namespace dcp::test::wayland {

std::string built_session_conf_path() { return DCP_BUILT_SESSION_CONF; }

PrivateSessionBus::PrivateSessionBus()
{
  char tmpl[] = "/tmp/dcp-session-bus-XXXXXX";
  if (!mkdtemp(tmpl))
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = tmpl;
  // Other users must reach the socket: the bus itself refuses them.
  chmod(dir_.c_str(), 0755);
  std::string conf = read_file(built_session_conf_path());
  if (conf.find("<type>session</type>") == std::string::npos)
    throw std::runtime_error("not a session bus config: " + built_session_conf_path());
  const std::string socket = (dir_ / "session_bus_socket").string();
  conf = std::regex_replace(conf, std::regex(R"(<listen>[^<]*</listen>)"),
                            "<listen>unix:path=" + socket + "</listen>");
  conf = std::regex_replace(conf, std::regex(R"(<standard_session_servicedirs */>)"),
                            "<servicedir>" + (dir_ / "services").string() + "</servicedir>");
  // The host's configuration (and session.d of the build) must not leak in.
  conf = std::regex_replace(conf, std::regex(R"(<include ignore_missing="yes">[^<]*</include>)"), "");
  conf = std::regex_replace(conf, std::regex(R"(<includedir>[^<]*</includedir>)"), "");
  conf.insert(conf.rfind("</busconfig>"),
              "<checkpoint_dir>" + checkpoint_dir().string() + "</checkpoint_dir>\n");
  std::filesystem::create_directory(dir_ / "services");
  std::ofstream(config_path()) << conf;
  address_ = "unix:path=" + socket;
  setenv("DBUS_SESSION_BUS_ADDRESS", address_.c_str(), 1);
  start();
}

PrivateSessionBus::~PrivateSessionBus()
{
  daemon_.stop(std::chrono::seconds(5));
  unsetenv("DBUS_SESSION_BUS_ADDRESS");
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void PrivateSessionBus::start()
{
  const auto socket = dir_ / "session_bus_socket";
  std::filesystem::remove(socket);
  daemon_ = ChildProcess({dbus_daemon_path(), "--config-file=" + config_path().string(),
                          "--nofork", "--nopidfile"},
                         (dir_ / "dbus-daemon.log").string());
  if (!wait_until([&] { return std::filesystem::exists(socket) || !daemon_.running(); },
                  std::chrono::seconds(20)) ||
      !daemon_.running())
    throw std::runtime_error("the session bus did not start; its log:\n" + log());
}

void PrivateSessionBus::kill_hard() { daemon_.kill_hard(); }

void kill_tree(pid_t root, std::chrono::milliseconds timeout)
{
  auto tree = dbus_checkpoint::cli::process_tree(root);
  if (!tree)
    return;  // gone already
  std::vector<pid_t> pids;
  for (const auto &process : tree.value()) {
    pids.push_back(process.id.pid);
    ::kill(process.id.pid, SIGKILL);
  }
  wait_until(
      [&] {
        for (pid_t pid : pids)
          waitpid(pid, nullptr, WNOHANG);  // ours (we are a subreaper), or not
        for (pid_t pid : pids)
          if (std::filesystem::exists("/proc/" + std::to_string(pid)))
            return false;
        return true;
      },
      timeout);
}

} // namespace dcp::test::wayland
