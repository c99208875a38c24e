// SPDX-License-Identifier: GPL-2.0-or-later
// Debian's own system services on our daemon as THE system bus
// (DistributionBus), checkpointed and restored with the dbus-checkpoint CLI
// and real CRIU.  Root only.
//
// Each service is started as Debian starts it — its unit's command line in
// a session of its own with only fds 0-2 (as init does), or, for polkitd,
// activated by the bus through Debian's launch helper on the first call —
// and dropping to its packaged user where its policy says so.  For each:
// cold start → first answered call (a real method or property, its value
// checked); `dbus-checkpoint checkpoint NAME`; a call gets NameFrozen;
// `dbus-checkpoint restore`; the call is answered again by the same unique
// name and pid; a signal the service emits after the restore reaches a
// subscriber (service_round_trip.hpp: the benchmark dcp-bench-services
// times the same steps).  Times (cold start, restore → first answered
// call) and image sizes are printed.  rtkit-daemon also across a bus
// SIGKILLed and started again on its state directory.
//
// Upstream CRIU dumps a process of another user only with CAP_SYS_RESOURCE
// (it reads its rlimits with prlimit(2)), which some containers do not
// grant even to root, and no unprivileged daemon chrooted where there is
// no /proc (avahi-daemon in /etc/avahi, rtkit-daemon in /proc): our CRIU
// reads their rlimits from /proc/PID/limits (criu-patches/0002) and their
// cgroups from /proc/PID/cgroup (0003).  Every service here does the whole
// round trip: with a CRIU that cannot dump one, the test fails and says so
// (checkpoint's refusals in those cases are tested in test_cli_units).
//
// The test is a child subreaper: what CRIU restores ends up its child, and
// DistributionBus kills every process of its namespace when it goes.
#define BOOST_TEST_MODULE system_services
#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <utility>

#include "criu_support.hpp"
#include "distribution_bus.hpp"
#include "service_round_trip.hpp"

using namespace dcp::test::system;

using dcp::test::criu::BecomeSubreaper;
BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

namespace {

// One step of the round trip: a check of it that fails (RoundTripFailure)
// fails the test, saying what was seen.
void step(const char *what, const std::function<void()> &body)
{
  std::string failure;
  try {
    body();
  } catch (const RoundTripFailure &f) {
    failure = f.what();
  }
  BOOST_REQUIRE_MESSAGE(failure.empty(), what << ": " << failure);
}

void checkpoint_and_restore(SystemService service)
{
  DistributionBus host;
  ServiceRoundTrip run(host, std::move(service));
  step("cold start", [&] { run.cold_start(); });
  // Not a skip: this test is there to restore the service.
  const std::string refusal = criu_refusal(run.pid);
  BOOST_REQUIRE_MESSAGE(refusal.empty(), refusal << "\n-- with " DCP_CRIU_EXECUTABLE ", a CRIU without "
                        "criu-patches/ that let it dump such a service here; configure with "
                        "-DDCP_CRIU=BUILD");
  step("checkpoint", [&] { run.checkpoint(); });
  BOOST_TEST_MESSAGE(run.checkpoint_output);
  step("restore", [&] { run.restore(); });
  BOOST_TEST_MESSAGE(run.restore_output);
  step("a signal after the restore", [&] { run.expect_signal_after_restore(); });
  BOOST_TEST_MESSAGE(run.summary());
}

} // namespace

BOOST_AUTO_TEST_CASE(avahi_daemon) { checkpoint_and_restore(avahi()); }

BOOST_AUTO_TEST_CASE(accounts_daemon) { checkpoint_and_restore(accounts(/*activated=*/false)); }

// Not a session leader: dumped as a shell job, restored into a session of
// its own.
BOOST_AUTO_TEST_CASE(accounts_daemon_activated_by_the_bus) { checkpoint_and_restore(accounts(true)); }

// Runs with RLIMIT_FSIZE 0: CRIU's log lines written in its context after
// the restore gave it back its limits killed it with SIGXFSZ.  As root, so
// that it can be dumped without CAP_SYS_RESOURCE too.
BOOST_AUTO_TEST_CASE(rtkit_daemon)
{
  checkpoint_and_restore(rtkit({"--no-chroot", "--no-drop-privileges"}));
}

// As its unit starts it: it drops to user rtkit and chroots into /proc,
// where CRIU's parasite could not read its cgroups (criu-patches/0003).
BOOST_AUTO_TEST_CASE(rtkit_daemon_as_its_unit_starts_it) { checkpoint_and_restore(rtkit({})); }

BOOST_AUTO_TEST_CASE(polkitd_activated_by_the_bus) { checkpoint_and_restore(polkit()); }

// rtkit-daemon (as root, see above) is what can be dumped on any machine;
// it declares no signal.  (accounts-daemon is not used here: across a bus
// restart its cached owner of org.freedesktop.PolicyKit1, the polkitd of
// the old bus, is stale, and its polkit checks fail; see README.)
BOOST_AUTO_TEST_CASE(rtkit_daemon_across_a_bus_killed_and_restarted)
{
  DistributionBus host;
  ServiceRoundTrip run(host, rtkit({"--no-chroot", "--no-drop-privileges"}));
  step("cold start", [&] { run.cold_start(); });
  step("checkpoint", [&] { run.checkpoint(); });
  host.kill_hard();
  host.start();  // reads the frozen connection back from /var/lib/dbus/checkpoint
  run.reconnect_admin();
  step("restore on the restarted bus", [&] { run.restore(); });
  BOOST_TEST_MESSAGE(run.summary());
}
