// SPDX-License-Identifier: GPL-2.0-or-later
#include "private_bus.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace dcp::test {
namespace {

bool socket_accepts(const std::filesystem::path &path)
{
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  struct sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string replace_all(std::string text, const std::string &pattern, const std::string &with)
{
  return std::regex_replace(text, std::regex(pattern), with);
}

// Anyone may call the sample services; root may own their names.  Mirrors
// what a service's own file in /usr/share/dbus-1/system.d grants.
constexpr const char *kTestServicePolicy = R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own_prefix="org.dbuscheckpoint"/>
  </policy>
  <policy context="default">
    <allow send_destination_prefix="org.dbuscheckpoint"/>
  </policy>
</busconfig>
)";

} // namespace

std::string dbus_daemon_path() { return DCP_DBUS_DAEMON; }
std::string built_system_conf_path() { return DCP_BUILT_SYSTEM_CONF; }

PrivateSystemBus::PrivateSystemBus(Options options)
    : daemon_path_(options.daemon_path.empty() ? dbus_daemon_path() : options.daemon_path)
{
  char tmpl[] = "/tmp/dcp-bus-XXXXXX";
  if (!mkdtemp(tmpl))
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  dir_ = tmpl;
  // Unprivileged test clients must reach the socket inside.
  chmod(dir_.c_str(), 0755);
  std::filesystem::create_directory(policy_dir());
  std::ofstream(policy_dir() / "dbus-checkpoint-tests.conf") << kTestServicePolicy;
  write_config(options);
  address_ = "unix:path=" + socket_path().string();
  setenv("DBUS_SYSTEM_BUS_ADDRESS", address_.c_str(), 1);
  start();
}

PrivateSystemBus::~PrivateSystemBus()
{
  daemon_.stop(std::chrono::seconds(5));
  unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  std::error_code ignored;
  if (!getenv("DCP_TEST_KEEP_BUS_DIR"))
    std::filesystem::remove_all(dir_, ignored);
}

void PrivateSystemBus::write_config(const Options &options)
{
  const std::string system_conf =
      options.system_conf_path.empty() ? built_system_conf_path() : options.system_conf_path;
  std::string conf = read_file(system_conf);
  if (conf.find("<type>system</type>") == std::string::npos)
    throw std::runtime_error("not a system bus config: " + system_conf);
  conf = replace_all(conf, R"(<user>[^<]*</user>)", "");
  conf = replace_all(conf, R"(<fork/>)", "");
  conf = replace_all(conf, R"(<pidfile>[^<]*</pidfile>)", "");
  conf = replace_all(conf, R"(<syslog/>)", "");
  conf = replace_all(conf, R"(<standard_system_servicedirs/>)",
                     "<servicedir>" + (dir_ / "services").string() + "</servicedir>");
  conf = replace_all(conf, R"(<checkpoint_dir>[^<]*</checkpoint_dir>)",
                     "<checkpoint_dir>" + checkpoint_dir().string() + "</checkpoint_dir>");
  conf = replace_all(conf, R"(<listen>[^<]*</listen>)",
                     "<listen>unix:path=" + socket_path().string() + "</listen>");
  // The host's own configuration must not leak into tests.
  conf = replace_all(conf, R"(<include ignore_missing="yes">/etc/[^<]*</include>)", "");
  conf = replace_all(conf, R"(<includedir>/etc/[^<]*</includedir>)", "");
  auto end = conf.rfind("</busconfig>");
  conf.insert(end, options.extra_config + "\n");
  std::filesystem::create_directory(dir_ / "services");
  std::ofstream(config_path()) << conf;
}

void PrivateSystemBus::start()
{
  std::filesystem::remove(socket_path());
  daemon_ = ChildProcess({daemon_path_, "--config-file=" + config_path().string(),
                          "--nofork", "--nopidfile"},
                         log_path(), /*new_session=*/true);
  bool up = wait_until([&] { return socket_accepts(socket_path()) || !daemon_.running(); },
                       std::chrono::seconds(20));
  if (!up || !daemon_.running())
    throw std::runtime_error("private bus did not start; daemon log:\n" + log());
}

void PrivateSystemBus::kill_hard() { daemon_.kill_hard(); }

void PrivateSystemBus::stop() { daemon_.stop(); }

} // namespace dcp::test
