// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-migrate: live migration of the sd-bus sample service with a
// 200 MiB heap between two hosts of this machine (test/criu/hosts.hpp:
// network, mount and, for the destination, pid namespaces, a veth link,
// a bus each), under load: a caller on each bus sends Get every 5 ms.
//   - migrate: `dbus-checkpoint migrate` on A (criu dump --lazy-pages, its
//     page server on A's link address) while `dbus-checkpoint receive` on
//     B restores and fetches the pages (post-copy);
//   - the way before it: `dbus-checkpoint checkpoint` on A, the images
//     copied to B's directory, `dbus-checkpoint restore` there (its
//     default: lazy pages from the local images above 64 MiB).
// The downtime is what the callers see: A's last answer -> B's first.
// Each run migrates once each way on fresh hosts; ratios are taken within
// one run.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "hosts.hpp"

using namespace dcp::bench;
using namespace dcp::test;
using namespace dcp::test::hosts;
namespace fs = std::filesystem;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-migrate [--runs N] [--json FILE]
Live migration (dbus-checkpoint migrate + receive: post-copy, the pages served
by criu's page server) of the sd-bus sample service with a 200 MiB heap
between two namespace hosts of this machine, under load, against checkpoint
+ copy of the images + restore.  Prints the callers' downtime (A's last
answer -> B's first), the commands' steps and the time until every page is
on B.  N runs (>= 5, default 5); --json appends the figures to FILE; --scale
is accepted and ignored.  Needs root (CRIU does).
)";

constexpr unsigned kHeapMb = 200;
constexpr double kDowntimeTargetMs = 100;

nlohmann::json json_of(const CommandResult &result, const std::string &what)
{
  if (!result.ok())
    throw std::runtime_error(what + ": " + result.describe());
  nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    throw std::runtime_error(what + " printed no JSON object: " + result.out);
  return parsed;
}

double number(const nlohmann::json &json, const char *key)
{
  return json.contains(key) && json[key].is_number() ? json[key].get<double>() : 0.0;
}

struct MigrationSamples {
  Samples downtime, command, dump, restore, pages_fetched;
  // migrate only: where its downtime goes
  Samples freeze, receive_restore, thaw, rest;
};

// Two fresh hosts, the service on A with its heap.
struct Stage {
  explicit Stage(const fs::path &work)
      : a("a", work), b("b", work, /*own_pids=*/true), service((link_hosts(a, b), a), SampleKind::SdBus,
                                                                {"--heap-mb", std::to_string(kHeapMb)})
  {
  }
  Host a, b;
  HostedService service;
};

std::string port_for(unsigned run)
{
  return std::to_string(27100 + (::getpid() + run) % 800);
}

void migrate_once(const fs::path &work, unsigned run, MigrationSamples &samples)
{
  Stage stage(work);
  const MigrationRun migration =
      migrate_between(stage.a, stage.b, stage.service, work / "migration", DCP_CLI, port_for(run));
  const nlohmann::json migrated = json_of(migration.migrate, "migrate");
  const nlohmann::json received = json_of(migration.receive, "receive");
  const auto downtime = migration.downtime_ms();
  if (!downtime)
    throw std::runtime_error("migrate: the callers saw no answer on A before or on B after");
  samples.downtime.add(*downtime);
  samples.command.add(migration.migrate_ms);
  samples.dump.add(number(migrated, "dump_ms"));
  samples.restore.add(number(received, "restore_ms"));
  samples.pages_fetched.add(number(migrated, "pages_fetched_ms"));
  samples.freeze.add(number(migrated, "freeze_ms"));
  samples.receive_restore.add(number(received, "total_ms"));
  samples.thaw.add(number(received, "thaw_ms"));
  samples.rest.add(*downtime - number(migrated, "freeze_ms") - number(migrated, "dump_ms") -
                   number(received, "total_ms"));
}

// checkpoint on A, the images copied, restore on B; callers as for migrate.
void checkpoint_copy_restore_once(const fs::path &work, MigrationSamples &samples)
{
  Stage stage(work);
  const fs::path dumped = work / "checkpoint", copied = work / "copied";
  nlohmann::json checkpointed, restored;
  double command_ms = 0;
  const CallersLogs callers = with_callers(stage.a, stage.b, stage.service.name, [&] {
    const auto started = Clock::now();
    checkpointed = json_of(run_command(with_prefix(stage.a.enter(), {DCP_CLI, "checkpoint", stage.service.name,
                                                                     "-D", dumped.string(), "--json"}),
                                       120s),
                           "checkpoint");
    fs::copy(dumped, copied, fs::copy_options::recursive);
    restored = json_of(
        run_command(with_prefix(stage.b.enter(), {DCP_CLI, "restore", "-D", copied.string(), "--json"}), 120s),
        "restore");
    command_ms = milliseconds_between(started, Clock::now());
  });
  const auto downtime = callers.downtime_ms();
  if (!downtime)
    throw std::runtime_error("checkpoint + copy + restore: the callers saw no answer on A before or on B after");
  samples.downtime.add(*downtime);
  samples.command.add(command_ms);
  samples.dump.add(number(checkpointed, "dump_ms"));
  samples.restore.add(number(restored, "restore_ms"));
  samples.pages_fetched.add(number(restored, "pages_in_ms"));
}

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-migrate", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage, /*default_runs=*/5);
    become_criu_parent();
    Report report(options);
    MigrationSamples migrate, copy;
    for (unsigned run = 1; run <= options.runs; run++) {
      progress("run " + std::to_string(run) + "/" + std::to_string(options.runs));
      {
        criu::WorkDir work("dcp-bench-migrate");
        migrate_once(work.path(), run, migrate);
      }
      {
        criu::WorkDir work("dcp-bench-migrate");
        checkpoint_copy_restore_once(work.path(), copy);
      }
    }
    const std::string live = "migrate (post-copy)", offline = "checkpoint + copy + restore";
    report.add({"migrate", "downtime: A's last answer -> B's first", live, "ms", migrate.downtime});
    report.add({"migrate", "downtime: A's last answer -> B's first", offline, "ms", copy.downtime});
    report.add({"migrate", "downtime: copy / migrate", "200 MiB heap", "x",
                paired_ratios(copy.downtime, migrate.downtime)});
    report.add({"migrate-steps", "commands' run (migrate; checkpoint+copy+restore)", live, "ms", migrate.command});
    report.add({"migrate-steps", "commands' run (migrate; checkpoint+copy+restore)", offline, "ms", copy.command});
    report.add({"migrate-steps", "criu dump (migrate: until its page server listens)", live, "ms", migrate.dump});
    report.add({"migrate-steps", "criu dump (migrate: until its page server listens)", offline, "ms", copy.dump});
    report.add({"migrate-steps", "criu restore on B", live, "ms", migrate.restore});
    report.add({"migrate-steps", "criu restore on B", offline, "ms", copy.restore});
    report.add({"migrate-steps", "every page on B (from the dump's / restore's start)", live, "ms",
                migrate.pages_fetched});
    report.add({"migrate-steps", "every page on B (from the dump's / restore's start)", offline, "ms",
                copy.pages_fetched});
    report.add({"migrate-downtime", "Freeze (migrate)", live, "ms", migrate.freeze});
    report.add({"migrate-downtime", "criu dump until its page server listens", live, "ms", migrate.dump});
    report.add({"migrate-downtime", "receive's restore: manifest read -> thawed", live, "ms",
                migrate.receive_restore});
    report.add({"migrate-downtime", "  of that criu restore", live, "ms", migrate.restore});
    report.add({"migrate-downtime", "  of that Thaw", live, "ms", migrate.thaw});
    report.add({"migrate-downtime", "the rest: manifest written -> receive woken, the callers' 5 ms", live,
                "ms", migrate.rest});
    report.add_note("migrate", "Callers send Get every 5 ms on each host's bus; B is a host with pid, "
                               "mount and network namespaces of its own, linked to A by a veth pair. "
                               "Pre-copy (criu pre-dump --track-mem) needs CONFIG_MEM_SOFT_DIRTY, which "
                               "this kernel may lack: migrate is post-copy.");
    report.print_table("Live migration of a 200 MiB service between two hosts, under load", "migrate");
    report.print_table("Live migration: steps", "migrate-steps");
    report.print_table("Live migration: where the downtime goes", "migrate-downtime");
    const double median = migrate.downtime.median();
    std::cout << "\nmigrate downtime (200 MiB, under load): median " << format_number(median) << " ms: "
              << (median <= kDowntimeTargetMs ? "target <= 100 ms met" : "target <= 100 ms NOT met")
              << "; checkpoint + copy + restore: " << format_number(copy.downtime.median()) << " ms\n";
  });
}
