// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-services: Debian's own system services on our daemon as THE
// system bus (test/system's DistributionBus), cold start vs restore with
// the dbus-checkpoint CLI and real CRIU — the round trip the system suite
// checks (test/system/service_round_trip.hpp), timed:
//   - cold start: the service started as its unit (or, for polkitd, the
//     bus's activation) starts it → its first answered real call;
//   - checkpoint: `dbus-checkpoint checkpoint NAME` to its exit;
//   - restore: `dbus-checkpoint restore` → the first answered call, and of
//     that criu restore, the wait for the dumped pids and the Thaw, as the
//     CLI's --json reports them.
// Each run starts every service on a bus of its own, in turn, and the
// cold/restore ratio is taken within one run, so that the load of other
// processes on the machine cancels out as far as it can.  Every check of
// the round trip holds in every run, or the benchmark stops and says why.
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "distribution_bus.hpp"
#include "service_round_trip.hpp"

using namespace dcp::bench;
using namespace dcp::test::system;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-services [--runs N] [--json FILE]
Cold start vs restore (dbus-checkpoint checkpoint + restore, real CRIU) of
Debian's avahi-daemon, accounts-daemon, rtkit-daemon (as its unit starts
each) and polkitd (activated by the bus) on our daemon as the system bus of
a private mount namespace.  N runs (>= 5, default 5) of every service;
--json appends the figures to FILE; --scale is accepted and ignored.  Needs
root (CRIU does) and the services' packages (scripts/install-deps.sh).
)";

std::vector<SystemService> services()
{
  return {avahi(), accounts(/*activated=*/false), rtkit({}), polkit()};
}

struct ServiceSamples {
  Samples cold_start, checkpoint, restore, criu_restore, pid_wait, thaw, images_kib;

  void add(const RoundTripFigures &run)
  {
    cold_start.add(run.cold_start_ms);
    checkpoint.add(run.checkpoint_ms);
    restore.add(run.restore_ms);
    criu_restore.add(run.criu_restore_ms);
    pid_wait.add(run.pid_wait_ms);
    thaw.add(run.thaw_ms);
    images_kib.add(static_cast<double>(run.image_bytes) / 1024.0);
  }

  void report_to(Report &report, const std::string &service) const
  {
    report.add({"services", "cold start -> first answer", service, "ms", cold_start});
    report.add({"services", "restore -> first answer", service, "ms", restore});
    report.add({"services", "cold / restore", service, "x", paired_ratios(cold_start, restore)});
    report.add({"services-steps", "dbus-checkpoint checkpoint", service, "ms", checkpoint});
    report.add({"services-steps", "image size", service, "KiB", images_kib});
    report.add({"services-steps", "restore: wait for the dumped pids", service, "ms", pid_wait});
    report.add({"services-steps", "restore: criu restore", service, "ms", criu_restore});
    report.add({"services-steps", "restore: Thaw", service, "ms", thaw});
  }
};

// One service, one run: the whole round trip on a bus of its own.
RoundTripFigures measure(const SystemService &service)
{
  DistributionBus host;
  ServiceRoundTrip run(host, service);
  run.cold_start();
  const std::string refusal = criu_refusal(run.pid);
  if (!refusal.empty())
    throw std::runtime_error(service.label + ": " + refusal);
  run.checkpoint();
  run.restore();
  run.expect_signal_after_restore();
  return run.figures();
}

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-services", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage, /*default_runs=*/5);
    become_criu_parent();
    Report report(options);
    std::map<std::string, ServiceSamples> samples;
    progress("warm-up: one round trip of rtkit-daemon");
    measure(rtkit({}));
    for (unsigned run = 1; run <= options.runs; run++) {
      progress("run " + std::to_string(run) + "/" + std::to_string(options.runs));
      for (const SystemService &service : services()) {
        try {
          samples[service.label].add(measure(service));
        } catch (const RoundTripFailure &failure) {
          throw std::runtime_error(service.label + ", run " + std::to_string(run) + ": " + failure.what());
        }
      }
    }
    for (const SystemService &service : services())
      samples[service.label].report_to(report, service.label);
    report.add_note("services", "restore -> first answer is timed from the start of "
                                "`dbus-checkpoint restore` (it includes the CLI's own checks, "
                                "criu restore, the wait for the dumped pids and the Thaw).");
    report.print_table("Real system services: restore vs cold start (our daemon as the system bus)",
                       "services");
    report.print_table("Real system services: checkpoint and restore steps", "services-steps");
    print_verdicts(report);
  });
}
