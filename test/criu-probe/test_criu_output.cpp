// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/criu-probe/criu_output: CRIU's version, error reports, what a log says.
#define BOOST_TEST_MODULE criu_output
#include <boost/test/unit_test.hpp>

#include "criu-probe/criu_output.hpp"

using namespace dbus_checkpoint::criu;

BOOST_AUTO_TEST_CASE(versions)
{
  auto v421 = parse_version("Version: 4.2.1\nGitID: v4.2.1\n");
  BOOST_REQUIRE(v421);
  BOOST_TEST(v421->str() == "4.2.1");
  BOOST_TEST(why_too_old(*v421).empty());
  auto v42 = parse_version("Version: 4.2\n");
  BOOST_REQUIRE(v42);
  BOOST_TEST(v42->str() == "4.2.0");
  BOOST_TEST(why_too_old(*v42).empty());
  auto v411 = parse_version("Version: 4.1.1\n");
  BOOST_REQUIRE(v411);
  BOOST_TEST((*v411 < kMinimumVersion));
  BOOST_TEST(why_too_old(*v411).find("CRIU 4.1.1 is older than 4.2") == 0);
  BOOST_TEST(why_too_old(*parse_version("Version: 3.17")).find("3.17.0") != std::string::npos);
  BOOST_TEST(why_too_old(*parse_version("Version: 10.0")).empty());
  BOOST_TEST(!parse_version("criu: unknown option --version"));
  BOOST_TEST(!parse_version(""));
}

// criu-patches/0004: `criu --version` names what our patches changed.
BOOST_AUTO_TEST_CASE(patch_features)
{
  using Words = std::vector<std::string>;
  BOOST_TEST(parse_patch_features("Version: 4.2.1\nPatches: dbus-checkpoint rlimits-from-proc\n") ==
             Words{kRlimitsFromProc});
  BOOST_TEST(parse_patch_features("Version: 4.2.1\nGitID: v4.2.1\nPatches: dbus-checkpoint a b\n") ==
             (Words{"a", "b"}));
  BOOST_TEST(parse_patch_features("Version: 4.2.1\nGitID: v4.2.1\n").empty(), "upstream CRIU");
  BOOST_TEST(parse_patch_features("Version: 4.2.1\nPatches: someone-else rlimits-from-proc\n").empty());
  BOOST_TEST(parse_patch_features("Version: 4.2.1\nPatches: dbus-checkpoint\n").empty());
  BOOST_TEST(parse_patch_features("").empty());
  // a patch may print a line of its own (0007 does, before the version)
  BOOST_TEST(parse_patch_features("Patches: dbus-checkpoint unix-sockets-of-other-netns\nVersion: 4.2.1\n"
                                  "Patches: dbus-checkpoint rlimits-from-proc cgroups-from-proc\n") ==
             (Words{kUnixSocketsOfOtherNetns, kRlimitsFromProc, kCgroupsFromProc}));
}

BOOST_AUTO_TEST_CASE(error_reports_far_above_the_tail)
{
  std::string log = "(00.001) Warn: something\n"
                    "(00.002) Error (criu/sockets.c:123): sockets: Can't get 1:16 opt: "
                    "Operation not supported\n"
                    "(00.003) Error (criu/rlimit.c:1): Can't setup RLIMIT_NOFILE\n";
  for (int i = 0; i < 30; ++i)
    log += "(00.1" + std::to_string(i) + ") Unfreezing tasks into 1\n";
  const std::string described = describe_log(log, "/d/dump.log", 6, 3);
  BOOST_TEST(described.find("; errors in /d/dump.log:\n  (00.002) Error (criu/sockets.c:123): "
                            "sockets: Can't get 1:16 opt: Operation not supported\n"
                            "and its last lines:\n  (00.127) Unfreezing") == 0,
             described);
  BOOST_TEST(described.find("RLIMIT_NOFILE") == std::string::npos);
  BOOST_TEST(described.ends_with("(00.129) Unfreezing tasks into 1\n"));
}

BOOST_AUTO_TEST_CASE(error_reports_inside_the_tail_are_shown_once)
{
  const std::string log = "(00.1) start\n(00.2) Error (a.c:1): broken\n";
  BOOST_TEST(describe_log(log, "L", 6, 12) ==
             "; the last lines of L:\n  (00.1) start\n  (00.2) Error (a.c:1): broken\n");
  BOOST_TEST(describe_log("", "L", 6, 12) == "");
}
