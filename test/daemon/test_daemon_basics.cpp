// SPDX-License-Identifier: GPL-2.0-or-later
// The patched daemon starts as a system bus with the real policy, answers
// the standard bus methods, and is driven by the usual administrator tools.
#define BOOST_TEST_MODULE daemon_basics
#include <boost/test/unit_test.hpp>

#include <string>

#include "bus_client.hpp"
#include "private_bus.hpp"

using dcp::test::CommandResult;
using dcp::test::PrivateSystemBus;
using dcp::test::run_command;
using dcp::test::SdBus;

namespace {

struct BusFixture {
  PrivateSystemBus bus;
};

} // namespace

BOOST_AUTO_TEST_CASE(version_names_upstream_and_dbus_checkpoint)
{
  CommandResult r = run_command({dcp::test::dbus_daemon_path(), "--version"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  BOOST_TEST(r.out.find("D-Bus Message Bus Daemon " DCP_DBUS_UPSTREAM_VERSION) != std::string::npos,
             r.out);
  BOOST_TEST(r.out.find("(dbus-checkpoint " DCP_EXPECTED_VERSION ")") != std::string::npos, r.out);
}

BOOST_FIXTURE_TEST_CASE(sd_bus_hello_and_list_names, BusFixture)
{
  SdBus client = dcp::test::open_system_bus();
  const char *unique = nullptr;
  BOOST_REQUIRE_EQUAL(sd_bus_get_unique_name(client.get(), &unique), 0);
  BOOST_TEST(std::string(unique).rfind(":1.", 0) == 0, unique);

  auto result = dcp::test::call(client.get(), {"org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "ListNames"});
  BOOST_REQUIRE_MESSAGE(result.ok(), "ListNames: " << result.error_message);
  bool has_bus = false, has_self = false;
  for (const std::string &name : dcp::test::read_string_array(result.reply.get())) {
    has_bus |= name == "org.freedesktop.DBus";
    has_self |= name == unique;
  }
  BOOST_TEST(has_bus);
  BOOST_TEST(has_self);
}

BOOST_FIXTURE_TEST_CASE(sd_bus_introspect, BusFixture)
{
  SdBus client = dcp::test::open_system_bus();
  auto result = dcp::test::call(client.get(), {"org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus.Introspectable", "Introspect"});
  BOOST_REQUIRE_MESSAGE(result.ok(), "Introspect: " << result.error_message);
  std::string text = dcp::test::read_string(result.reply.get());
  BOOST_TEST(text.find("<interface name=\"org.freedesktop.DBus\">") != std::string::npos);
  BOOST_TEST(text.find("<method name=\"Hello\">") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(dbus_send_system_list_names, BusFixture)
{
  CommandResult r = run_command({DCP_DBUS_SEND, "--system", "--print-reply",
                                 "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus.ListNames"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  BOOST_TEST(r.out.find("string \"org.freedesktop.DBus\"") != std::string::npos, r.out);
}

BOOST_FIXTURE_TEST_CASE(busctl_system_list_and_introspect, BusFixture)
{
  CommandResult list = run_command({DCP_BUSCTL, "--system", "--no-pager", "list"});
  BOOST_REQUIRE_MESSAGE(list.ok(), list.describe());
  BOOST_TEST(list.out.find("org.freedesktop.DBus") != std::string::npos, list.out);

  CommandResult intro = run_command({DCP_BUSCTL, "--system", "--no-pager", "introspect",
                                     "org.freedesktop.DBus", "/org/freedesktop/DBus"});
  BOOST_REQUIRE_MESSAGE(intro.ok(), intro.describe());
  BOOST_TEST(intro.out.find(".ListNames") != std::string::npos, intro.out);
}

BOOST_FIXTURE_TEST_CASE(gdbus_system_call, BusFixture)
{
  CommandResult r = run_command({DCP_GDBUS, "call", "--system", "--dest", "org.freedesktop.DBus",
                                 "--object-path", "/org/freedesktop/DBus", "--method",
                                 "org.freedesktop.DBus.GetId"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  BOOST_TEST(r.out.size() > 32u, r.out);
}

// The system policy is in force: root may own the test services' names,
// an unprivileged user may not, and may not call privileged bus interfaces.
BOOST_FIXTURE_TEST_CASE(system_policy_is_enforced, BusFixture)
{
  auto request_name_as = [](std::vector<std::string> prefix) {
    std::vector<std::string> argv = std::move(prefix);
    for (const char *a : {DCP_DBUS_SEND, "--system", "--print-reply", "--dest=org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus.RequestName",
                          "string:org.dbuscheckpoint.PolicyProbe", "uint32:0"})
      argv.emplace_back(a);
    return run_command(argv);
  };
  CommandResult as_root = request_name_as({});
  BOOST_TEST_MESSAGE("root RequestName: " << as_root.out);
  BOOST_REQUIRE_MESSAGE(as_root.ok(), as_root.describe());
  BOOST_TEST(as_root.out.find("uint32 1") != std::string::npos, as_root.out);

  CommandResult as_nobody = request_name_as(
      {DCP_SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups"});
  BOOST_TEST(!as_nobody.ok());
  BOOST_TEST(as_nobody.err.find("org.freedesktop.DBus.Error.AccessDenied") != std::string::npos,
             as_nobody.describe());

  CommandResult monitor_as_nobody = run_command(
      {DCP_SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", DCP_DBUS_SEND, "--system",
       "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
       "org.freedesktop.DBus.Monitoring.BecomeMonitor", "array:string:", "uint32:0"});
  BOOST_TEST(monitor_as_nobody.err.find("AccessDenied") != std::string::npos,
             monitor_as_nobody.describe());
}

// Each bus start numbers unique names from a random :1.N (bus-patch
// random-unique-names), so that a frozen connection restored from another bus under its
// own unique name does not find it taken.
BOOST_FIXTURE_TEST_CASE(unique_names_start_at_a_random_number, BusFixture)
{
  auto first_unique_name = [] {
    dcp::test::SdBus client = dcp::test::open_system_bus();
    const char *unique = nullptr;
    BOOST_REQUIRE_EQUAL(sd_bus_get_unique_name(client.get(), &unique), 0);
    return std::string(unique);
  };
  std::string before = first_unique_name();
  bus.stop();
  bus.start();
  std::string after = first_unique_name();
  BOOST_TEST(before.rfind(":1.", 0) == 0u, before);
  BOOST_TEST(after.rfind(":1.", 0) == 0u, after);
  BOOST_TEST(before != after, "two starts of the bus gave out " << before << " first");
}
