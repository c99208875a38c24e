// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/bus-client/process_buses: which buses a process's environment
// names, and when two addresses are one bus.
#define BOOST_TEST_MODULE test_process_buses
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "bus-client/process_buses.hpp"

using namespace dbus_checkpoint::bus_client;
using namespace std::string_literals;

BOOST_AUTO_TEST_CASE(environment_values_are_found_whole)
{
  const std::string block = "HOME=/root\0DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/0/bus\0"
                            "DBUS_SESSION_BUS_ADDRESS_X=no\0EMPTY=\0"s;
  BOOST_TEST(environment_value(block, "DBUS_SESSION_BUS_ADDRESS") == "unix:path=/run/user/0/bus");
  BOOST_TEST(environment_value(block, "HOME") == "/root");
  BOOST_TEST(environment_value(block, "EMPTY") == "");
  BOOST_TEST(environment_value(block, "DBUS_SESSION") == "");  // a prefix is not a name
  BOOST_TEST(environment_value(block, "MISSING") == "");
}

BOOST_AUTO_TEST_CASE(unix_paths_are_unescaped_other_transports_left_out)
{
  auto paths = unix_paths_of_address("unix:path=/tmp/a%20b,guid=00;tcp:host=x;unix:abstract=z;"
                                     "unix:path=/run/dbus/system_bus_socket");
  BOOST_REQUIRE(paths.size() == 2u);
  BOOST_TEST(paths[0] == "/tmp/a b");
  BOOST_TEST(paths[1] == "/run/dbus/system_bus_socket");
  BOOST_TEST(unix_paths_of_address("unix:abstract=/tmp/dbus-x").empty());
}

BOOST_AUTO_TEST_CASE(a_process_buses_come_from_its_environment)
{
  // A child exec'd with both addresses (and nothing else) in its environment.
  char session[] = "DBUS_SESSION_BUS_ADDRESS=unix:path=/tmp/dcp-test-session";
  char system[] = "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/tmp/dcp-test-system";
  char *child_env[] = {session, system, nullptr};
  char sleep_path[] = "/bin/sleep", sleep_name[] = "sleep", seconds[] = "30";
  char *child_argv[] = {sleep_name, seconds, nullptr};
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    close_range(3, ~0U, 0);  // only 0-2, as every process the tests start
    execve(sleep_path, child_argv, child_env);
    _exit(127);
  }
  // Until it has exec'd: before, its environ is ours.
  std::string exe;
  for (int i = 0; i < 400 && exe.find("sleep") == std::string::npos; i++) {
    std::error_code ignored;
    exe = std::filesystem::read_symlink("/proc/" + std::to_string(child) + "/exe", ignored);
    usleep(5000);
  }
  auto buses = process_bus_addresses(child);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  BOOST_REQUIRE(buses.ok());
  BOOST_TEST(buses.value().session == "unix:path=/tmp/dcp-test-session");
  BOOST_TEST(buses.value().system == "unix:path=/tmp/dcp-test-system");

  auto missing = process_bus_addresses(0x7ffffff0);
  BOOST_TEST(!missing.ok());
  BOOST_TEST(missing.error().message.find("/proc/") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(same_bus_compares_socket_files)
{
  char tmpl[] = "/tmp/dcp-same-bus-XXXXXX";
  BOOST_REQUIRE(mkdtemp(tmpl));
  const std::filesystem::path dir = tmpl;
  const std::string socket_path = (dir / "bus").string();
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  struct sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<struct sockaddr *>(&address), sizeof address) == 0);
  std::filesystem::create_symlink(dir, dir / "link");

  BOOST_TEST(same_bus("unix:path=" + socket_path, "unix:path=" + socket_path));
  BOOST_TEST(same_bus("unix:path=" + socket_path, "unix:path=" + (dir / "link" / "bus").string()));
  BOOST_TEST(same_bus("unix:path=" + socket_path + ",guid=1", "tcp:host=x;unix:path=" + socket_path));
  BOOST_TEST(!same_bus("unix:path=" + socket_path, "unix:path=" + (dir / "other").string()));
  BOOST_TEST(!same_bus("unix:path=/nonexistent/a", "unix:path=/nonexistent/b"));
  close(fd);
  std::filesystem::remove_all(dir);
}
