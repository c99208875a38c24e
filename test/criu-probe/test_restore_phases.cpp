// SPDX-License-Identifier: GPL-2.0-or-later
// criu-probe/restore_phases: the phases of a restore, from a -v4 log shaped
// like CRIU 4.2.1's (lines kept from a real restore of the sample service).
#define BOOST_TEST_MODULE restore_phases
#include <boost/test/unit_test.hpp>

#include <string>

#include "criu-probe/restore_phases.hpp"

using dbus_checkpoint::criu::describe_phases;
using dbus_checkpoint::criu::restore_phases;

namespace {

constexpr const char *kLog =
    "(00.000000) CRIU run id = 2818c90d-9c9d-4009-87c1-a5cbb3a4e3d7\n"
    "(00.005166) Loaded kdat cache from /run/criu.kdat\n"
    "(00.009891) NS mask to use 0\n"
    "(00.033492) Plugin \"dbus-checkpoint\" (version 512 hooks 13)\n"
    "(00.033700) \t   0 -> 0x7f0bc6059d20\n"
    "(00.035308) Forking task with 15823 pid (flags 0x0)\n"
    "(00.073553)  15823: unix: plugin: `dbus-checkpoint' hook 1 -> 0x7f0bc6059cf0\n"
    "(00.085553)  15823: dbus-checkpoint: socket 518323 reattached to the bus at /x in 12 ms\n"
    "(00.090000)  15823: unix: plugin: `dbus-checkpoint' hook 1 -> 0x7f0bc6059cf0\n"
    "(00.093000)  15823: dbus-checkpoint: socket 518324 reattached to the bus at /y in 3 ms\n"
    "an unstamped line\n"
    "(00.146731) Restore finished successfully. Tasks resumed.\n"
    "(00.146733) Writing stats\n"
    "(00.147027) Running post-resume scripts\n";

double phase(const std::string &log, const std::string &name)
{
  for (const auto &p : restore_phases(log))
    if (p.name == name)
      return p.ms;
  return -1;
}

} // namespace

BOOST_AUTO_TEST_CASE(phases_of_a_restore_log)
{
  const auto phases = restore_phases(kLog);
  BOOST_REQUIRE_EQUAL(phases.size(), 6u);
  BOOST_TEST(phases[0].name == "start-up");
  BOOST_TEST(phase(kLog, "start-up") == 9.891, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(phase(kLog, "plugin load") == 23.601, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(phase(kLog, "fork, files") == 40.061, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(phase(kLog, "reattach") == 15.0, boost::test_tools::tolerance(1e-6));  // 12 + 3
  BOOST_TEST(phase(kLog, "memory, restorer") == 58.178, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(phase(kLog, "finish") == 0.296, boost::test_tools::tolerance(1e-6));
  double sum = 0;
  for (const auto &p : phases)
    sum += p.ms;
  BOOST_TEST(sum == 147.027, boost::test_tools::tolerance(1e-6));  // the whole log
  BOOST_TEST(describe_phases(phases).starts_with("start-up 9.9, plugin load 23.6, fork, files 40.1"));
}

BOOST_AUTO_TEST_CASE(logs_without_markers)
{
  BOOST_TEST(restore_phases("").empty());
  BOOST_TEST(restore_phases("no timestamps here\n(not one)\n").empty());
  BOOST_TEST(describe_phases({}).empty());
  // A restore without our plugin's sockets: no reattach phase.
  const auto phases = restore_phases("(00.000000) a\n(00.001000) b\n(00.004000) Plugin \"x\"\n"
                                     "(00.010000) Restore finished successfully.\n");
  BOOST_REQUIRE_EQUAL(phases.size(), 4u);
  BOOST_TEST(phases[2].name == "memory, restorer");
  BOOST_TEST(phases[2].ms == 6.0, boost::test_tools::tolerance(1e-6));
}
