// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-restore: restoring a checkpointed service vs starting it cold,
// for the sd-bus sample service on our patched daemon (private system bus),
// with real CRIU and our plugin, as test/criu/test_criu_plugin.cpp does it:
//   - cold start: exec the service -> the first Get it answers.  A client
//     connected beforehand calls Get until it is answered; after each call
//     that finds no owner it waits for the name's NameOwnerChanged (at most
//     5 ms), so it neither spins nor oversleeps the moment;
//   - restore: that same service, once it answered, is frozen and dumped
//     (`criu dump`); then `criu restore -d` -> Thaw -> the first Get it
//     answers, each step timed;
//   - the heap case once more with lazy pages: `criu lazy-pages` serves the
//     pages of the (ordinary) dump through userfaultfd, `criu restore
//     --lazy-pages` restores without them;
//   - the heap case through the CLI: `dbus-checkpoint checkpoint`, then
//     `dbus-checkpoint restore` with its default (lazy pages above 64 MiB
//     of pages) vs --no-lazy-pages -> the first Get answered while it runs
//     (it waits for lazy-pages to end: "all pages in" is when it exits);
//   - init 0 ms once more with the plugin in one piece, as before its bus
//     module was split off (it loads sd-bus, libdbus and the record library
//     with CRIU and restores through them), side by side with the plugin.
// Each run goes through every scenario in turn, and the cold/restore ratio
// is taken within one cycle, so that the load of other processes on the
// machine cancels out as far as it can.
//
// The restored process is CRIU's child, then (CRIU exits with -d) its
// nearest child subreaper's: this program is one, so that it reaps what it
// restored and never leaves a process behind.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_bus.hpp"
#include "bench_support.hpp"
#include "bus-client/checkpoint_bus.hpp"
#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "criu-probe/restore_phases.hpp"
#include "criu_support.hpp"
#include "process.hpp"
#include "sample_service.hpp"

using namespace dcp;
using namespace dcp::bench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace bus_client = dbus_checkpoint::bus_client;
namespace base = dbus_checkpoint::base;
namespace criu = dcp::test::criu;
namespace criu_log = dbus_checkpoint::criu;  // what we read from CRIU's logs

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-restore [--runs N] [--json FILE]
Cold start vs CRIU restore of the sd-bus sample service on our patched
dbus-daemon (private system bus): --init-ms 0, 100, 1000, 3000 and a 200 MiB
heap, that heap also with lazy pages, and through dbus-checkpoint restore with
its default (lazy pages) vs --no-lazy-pages, init 0 ms also with the plugin in one
piece (before its bus module was split off); then `criu --version` vs
/bin/true (3N runs each).  N runs (>= 5, default 7) of every scenario; --json appends the figures to FILE; --scale is accepted and
ignored.  Needs root (CRIU does).
)";

constexpr const char *kServiceName = test::kSampleDefaultName;
constexpr const char *kServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown";
constexpr const char *kNameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner";
constexpr const char *kNameFrozen = "org.freedesktop.DBus.Error.NameFrozen";
constexpr double kMiB = 1024.0 * 1024.0;

constexpr const char *kOnePieceSubject = "init 0 ms, one-piece plugin";

struct Scenario {
  std::string subject;  // as the figures name it
  unsigned init_ms = 0;
  unsigned heap_mb = 0;
  bool lazy_pages = false;
  bool one_piece_plugin = false;  // the plugin as before the split
  // Through the CLI (dbus-checkpoint checkpoint and restore), with these
  // restore options; not through the CLI when empty.
  std::vector<std::string> cli_restore_options = {};
};

const std::vector<Scenario> kScenarios = {
    {"init 0 ms", 0, 0},          {"init 100 ms", 100, 0},
    {"init 1000 ms", 1000, 0},    {"init 3000 ms", 3000, 0},
    {"heap 200 MiB", 0, 200},     {"heap 200 MiB lazy", 0, 200, true},
    {kOnePieceSubject, 0, 0, false, true},
    {"heap 200 MiB, dbus-checkpoint restore (default: lazy)", 0, 200, false, false, {"--json"}},
    {"heap 200 MiB, dbus-checkpoint restore --no-lazy-pages", 0, 200, false, false,
     {"--json", "--no-lazy-pages"}},
};
// The CLI's default against --no-lazy-pages, run by run.
constexpr const char *kCliLazySubject = "heap 200 MiB, dbus-checkpoint restore (default: lazy)";
constexpr const char *kCliEagerSubject = "heap 200 MiB, dbus-checkpoint restore --no-lazy-pages";
// What the one-piece plugin is measured against.
constexpr const char *kSplitSubject = "init 0 ms";

template <typename T>
T value_or_throw(base::Result<T> result, const std::string &what)
{
  if (!result)
    throw std::runtime_error(what + ": " + result.error().describe());
  return std::move(result).value();
}

void throw_unless_ok(const base::Result<void> &result, const std::string &what)
{
  if (!result)
    throw std::runtime_error(what + ": " + result.error().describe());
}

const char *plugin_dir(const Scenario &scenario)
{
  return scenario.one_piece_plugin ? DCP_CRIU_ONE_PIECE_PLUGIN_DIR : DCP_CRIU_PLUGIN_DIR;
}

// `criu ACTION -D images -L plugins -o ACTION.log extra...`
std::vector<std::string> criu_command(const std::string &action, const fs::path &images,
                                      const Scenario &scenario,
                                      const std::vector<std::string> &extra = {})
{
  std::vector<std::string> argv = {DCP_CRIU_EXECUTABLE, action, "-D", images.string(),
                                   "-L", plugin_dir(scenario), "-o", action + ".log"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// A criu command run to its end (criu_support's runners take no options):
// its result and wall time in ms.
struct TimedCriu {
  test::CommandResult result;
  double ms = 0;
};

TimedCriu run_criu(const std::string &action, const fs::path &images, const Scenario &scenario,
                   const std::vector<std::string> &extra)
{
  const auto start = Clock::now();
  test::CommandResult result = test::run_command(criu_command(action, images, scenario, extra), 60s);
  return {std::move(result), milliseconds_between(start, Clock::now())};
}

void throw_unless_ok(const TimedCriu &run, const std::string &action, const fs::path &images)
{
  if (!run.result.ok())
    throw std::runtime_error("criu " + action + ": " + run.result.describe() + "\n" +
                             criu::tail_of(images / (action + ".log")));
}

// A client that calls the service's Get until it is answered.
class GetCaller {
 public:
  GetCaller()
      : bus_(test::open_system_bus()),
        owner_changes_(bus_.get(), std::string("type='signal',sender='org.freedesktop.DBus',"
                                               "member='NameOwnerChanged',arg0='") +
                                       kServiceName + "'"),
        thawed_(bus_.get(), std::string("type='signal',sender='org.freedesktop.DBus',"
                                        "interface='org.freedesktop.DBus.Checkpoint',"
                                        "member='NameThawed',arg0='") +
                                kServiceName + "'")
  {
  }

  // When Get was first answered.  Between calls that find no owner it
  // waits for a NameOwnerChanged of the name, 5 ms at the most; with
  // `while_frozen` (a restore by the CLI, which thaws the name itself) a
  // NameFrozen answer is waited out likewise, for its NameThawed.  Throws
  // once `alive` says the service is gone or after `timeout`.
  Clock::time_point first_answer(const std::function<bool()> &alive,
                                 std::chrono::milliseconds timeout, bool while_frozen = false)
  {
    const auto deadline = Clock::now() + timeout;
    const test::MethodCall get = test::sample_method(kServiceName, "Get");
    while (true) {
      const std::size_t seen = owner_changes_.signals().size();
      const std::size_t thaws_seen = thawed_.signals().size();
      test::CallResult r = test::call(bus_.get(), get);
      if (r.ok())
        return Clock::now();
      const bool frozen = while_frozen && r.error_name == kNameFrozen;
      if (r.error_name != kServiceUnknown && r.error_name != kNameHasNoOwner && !frozen)
        throw std::runtime_error("Get: " + r.describe());
      if (!alive())
        throw std::runtime_error("the service ended before answering Get");
      if (Clock::now() > deadline)
        throw std::runtime_error("Get was not answered in time");
      if (frozen)
        thawed_.wait_for(thaws_seen + 1, 5ms);
      else
        owner_changes_.wait_for(seen + 1, 5ms);
    }
  }

 private:
  test::SdBus bus_;
  test::SignalCollector owner_changes_;
  test::SignalCollector thawed_;
};

// The figures of one cycle: cold start, dump, restore.
// CRIU probes the kernel (kerndat) on every run unless it kept the result
// in /run/criu.kdat: upstream only on a tmpfs /run, ours for the boot on
// any filesystem (criu-patches/0001).  Its restore log says which.
// criu restore's phases from its -v4 log (IMAGES/restore.log), then what
// its `ms` spent outside that log; none if the log has no phases.
std::vector<criu_log::Phase> restore_phases_of(const fs::path &images, double ms)
{
  std::vector<criu_log::Phase> phases =
      criu_log::restore_phases(test::read_file((images / "restore.log").string()));
  if (!phases.empty())
    phases.push_back({"outside its log (exec, exit)", ms - criu_log::logged_ms(phases)});
  return phases;
}

bool restore_used_kernel_probe_cache(const fs::path &images)
{
  return test::read_file((images / "restore.log").string()).find("Loaded kdat cache from") !=
         std::string::npos;
}

struct CycleTimes {
  double cold_start_ms = 0;
  double dump_ms = 0;
  double image_mib = 0;
  double lazy_daemon_ms = 0;  // lazy pages: `criu lazy-pages` start -> its socket
  double criu_restore_ms = 0;
  double thaw_ms = 0;
  double first_call_ms = 0;
  double restore_ms = 0;      // restore start -> first answered Get
  double pages_in_ms = 0;     // lazy pages: restore start -> the daemon served all
  // criu restore's own phases (its -v4 log), then what lies outside its log.
  std::vector<criu_log::Phase> criu_phases;
  bool kernel_probe_redone = false;  // criu restore did not find /run/criu.kdat
  bool lazy_pages_used = false;      // the CLI said it used lazy pages
};

class RestoreBench {
 public:
  RestoreBench()
      : admin_(value_or_throw(bus_client::CheckpointBus::connect({}), "connect to the bus")),
        images_(bus_.config().dir() / "images"),
        service_log_(bus_.config().dir() / "sample-service.log")
  {
  }

  CycleTimes run_cycle(const Scenario &scenario)
  {
    CycleTimes times;
    fs::remove_all(images_);
    fs::create_directories(images_);
    checkpoint_id_.clear();
    try {
      const pid_t pid = start_cold(scenario, times);
      if (scenario.cli_restore_options.empty())
        restore(scenario, pid, times);
      else
        restore_with_cli(scenario, pid, times);
    } catch (...) {
      // Whatever was restored is gone by now; the frozen connection would
      // keep the name from the next cycle's service.
      if (!checkpoint_id_.empty())
        (void)admin_.discard(checkpoint_id_);
      throw;
    }
    fs::remove_all(images_);
    return times;
  }

 private:
  // Starts the service, times its first answer, dumps it: its pid.
  pid_t start_cold(const Scenario &scenario, CycleTimes &times)
  {
    std::vector<std::string> argv = test::sample_command(test::SampleKind::SdBus);
    argv.insert(argv.end(), {"--name", kServiceName, "--init-ms", std::to_string(scenario.init_ms),
                             "--heap-mb", std::to_string(scenario.heap_mb)});
    const auto start = Clock::now();
    test::ChildProcess service(argv, service_log_.string(), /*new_session=*/true);
    const auto answered = caller_.first_answer([&] { return service.running(); },
                                               30s + std::chrono::milliseconds(scenario.init_ms));
    times.cold_start_ms = milliseconds_between(start, answered);

    const pid_t pid = service.pid();
    if (scenario.cli_restore_options.empty()) {
      checkpoint_id_ = value_or_throw(admin_.freeze(kServiceName), "Freeze");
      TimedCriu dump = run_criu("dump", images_, scenario, {"-t", std::to_string(pid)});
      throw_unless_ok(dump, "dump", images_);
      times.dump_ms = dump.ms;
    } else {
      const auto dump_start = Clock::now();
      test::CommandResult dump =
          test::run_command({DCP_CLI, "checkpoint", kServiceName, "-D", images_.string()}, 120s);
      times.dump_ms = milliseconds_between(dump_start, Clock::now());
      for (const auto &frozen : value_or_throw(admin_.list_frozen(), "ListFrozen"))
        checkpoint_id_ = frozen.id;
      if (!dump.ok())
        throw std::runtime_error("dbus-checkpoint checkpoint: " + dump.describe());
    }
    // CRIU killed it; the pid must be free again before CRIU can restore it.
    if (!test::wait_until([&] { return !service.running(); }, 10s) ||
        !criu::wait_until_gone(pid, 10s))
      throw std::runtime_error("the dumped service did not go away");
    times.image_mib = static_cast<double>(criu::directory_bytes(images_)) / kMiB;
    // Reattach wants the frozen connection detached: the bus sees the
    // socket close in its own time.
    if (!test::wait_until([&] { return frozen_connection_detached(); }, 5s))
      throw std::runtime_error("the bus did not see the dumped service's socket close");
    return pid;
  }

  bool frozen_connection_detached()
  {
    auto frozen = value_or_throw(admin_.list_frozen(), "ListFrozen");
    for (const auto &connection : frozen)
      if (connection.id == checkpoint_id_)
        return !connection.attached;
    throw std::runtime_error("the bus forgot checkpoint " + checkpoint_id_);
  }

  void restore(const Scenario &scenario, pid_t pid, CycleTimes &times)
  {
    // Destroyed in reverse: the restored process goes before the daemon.
    std::optional<test::ChildProcess> lazy_daemon;
    std::optional<criu::RestoredProcess> restored;
    // -v4 as the CLI runs it: the log's timestamps give the phases.
    std::vector<std::string> restore_options = {"-d", "-v4"};
    const auto start = Clock::now();
    if (scenario.lazy_pages) {
      lazy_daemon.emplace(criu_command("lazy-pages", images_, scenario),
                          (images_ / "lazy-pages.out").string());
      const fs::path socket = images_ / "lazy-pages.socket";
      if (!test::wait_until([&] { return fs::exists(socket) || !lazy_daemon->running(); }, 10s) ||
          !fs::exists(socket))
        throw std::runtime_error("criu lazy-pages did not start\n" +
                                 criu::tail_of(images_ / "lazy-pages.log"));
      times.lazy_daemon_ms = milliseconds_between(start, Clock::now());
      restore_options.push_back("--lazy-pages");
    }
    TimedCriu run = run_criu("restore", images_, scenario, restore_options);
    if (criu::process_exists(pid))
      restored.emplace(pid);
    throw_unless_ok(run, "restore", images_);
    if (!restored)
      throw std::runtime_error("criu restore succeeded, but pid " + std::to_string(pid) +
                               " does not exist");
    times.criu_restore_ms = run.ms;
    if (!restore_used_kernel_probe_cache(images_))
      times.kernel_probe_redone = true;
    times.criu_phases = restore_phases_of(images_, run.ms);

    const auto thaw_start = Clock::now();
    throw_unless_ok(admin_.thaw(checkpoint_id_), "Thaw");
    const auto thawed = Clock::now();
    times.thaw_ms = milliseconds_between(thaw_start, thawed);
    const auto answered = caller_.first_answer([&] { return criu::process_exists(pid); }, 30s);
    times.first_call_ms = milliseconds_between(thawed, answered);
    times.restore_ms = milliseconds_between(start, answered);

    if (lazy_daemon) {  // it ends once every page is in
      if (!test::wait_until([&] { return !lazy_daemon->running(); }, 60s))
        throw std::runtime_error("criu lazy-pages did not finish\n" +
                                 criu::tail_of(images_ / "lazy-pages.log"));
      times.pages_in_ms = milliseconds_between(start, Clock::now());
    }
  }

  // `dbus-checkpoint restore OPTIONS -D images` started, Get called until
  // answered while it runs; then until it exits (with lazy pages: every
  // page in).
  void restore_with_cli(const Scenario &scenario, pid_t pid, CycleTimes &times)
  {
    std::optional<criu::RestoredProcess> restored;
    std::vector<std::string> argv = {DCP_CLI, "restore"};
    argv.insert(argv.end(), scenario.cli_restore_options.begin(),
                scenario.cli_restore_options.end());
    argv.insert(argv.end(), {"-D", images_.string()});
    const fs::path log = bus_.config().dir() / "cli-restore.log";
    fs::remove(log);  // ChildProcess appends: this run's JSON only
    const auto start = Clock::now();
    test::ChildProcess cli(argv, log.string());
    const auto answered = caller_.first_answer(
        [&] { return cli.running() || criu::process_exists(pid); }, 60s,
        /*while_frozen=*/true);
    times.restore_ms = milliseconds_between(start, answered);
    if (criu::process_exists(pid))
      restored.emplace(pid);
    if (!test::wait_until([&] { return !cli.running(); }, 120s))
      throw std::runtime_error("dbus-checkpoint restore did not end");
    times.pages_in_ms = milliseconds_between(start, Clock::now());
    if (!restored && criu::process_exists(pid))
      restored.emplace(pid);
    const std::string said = test::read_file(log.string());
    const nlohmann::json figures = restore_json(said);
    if (!figures.contains("restore_ms"))
      throw std::runtime_error("dbus-checkpoint restore failed:\n" + said);
    times.criu_restore_ms = figures.value("restore_ms", 0.0);
    times.thaw_ms = figures.value("thaw_ms", 0.0);
    times.lazy_daemon_ms = figures.value("lazy_pages_start_ms", 0.0);
    times.lazy_pages_used = figures.value("lazy_pages", false);
    times.criu_phases = restore_phases_of(images_, times.criu_restore_ms);
  }

  // The CLI's --json object: the line of its output (stdout and stderr, in
  // one log) that parses as a JSON object; an empty object if none does.
  static nlohmann::json restore_json(const std::string &output)
  {
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.starts_with('{'))
        continue;
      nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object())
        return parsed;
    }
    return nlohmann::json::object();
  }

  BenchBus bus_{Daemon::Ours};
  bus_client::CheckpointBus admin_;
  GetCaller caller_;
  fs::path images_;
  fs::path service_log_;
  std::string checkpoint_id_;
};

// The samples of one scenario, figure by figure.
struct ScenarioSamples {
  Samples cold_start, dump, image, lazy_daemon, criu_restore, thaw, first_call, restore,
      pages_in;
  bool lazy_pages_used = false;  // through the CLI: it said it used them
  std::vector<std::pair<std::string, Samples>> phases;  // in the log's order

  void add(const CycleTimes &t)
  {
    cold_start.add(t.cold_start_ms);
    dump.add(t.dump_ms);
    image.add(t.image_mib);
    lazy_daemon.add(t.lazy_daemon_ms);
    lazy_pages_used = lazy_pages_used || t.lazy_pages_used;
    criu_restore.add(t.criu_restore_ms);
    thaw.add(t.thaw_ms);
    first_call.add(t.first_call_ms);
    restore.add(t.restore_ms);
    pages_in.add(t.pages_in_ms);
    for (const criu_log::Phase &phase : t.criu_phases) {
      auto found = std::find_if(phases.begin(), phases.end(),
                                [&](const auto &named) { return named.first == phase.name; });
      if (found == phases.end())
        found = phases.insert(phases.end(), {phase.name, Samples{}});
      found->second.add(phase.ms);
    }
  }

  void report_to(Report &report, const Scenario &scenario) const
  {
    const std::string &s = scenario.subject;
    report.add({"restore", "cold start -> first answered Get", s, "ms", cold_start});
    report.add({"restore", "restore -> first answered Get", s, "ms", restore});
    report.add({"restore", "cold / restore", s, "x", paired_ratios(cold_start, restore)});
    report.add({"restore-steps", "criu dump (frozen service)", s, "ms", dump});
    report.add({"restore-steps", "image size", s, "MiB", image});
    if (scenario.lazy_pages)
      report.add({"restore-steps", "criu lazy-pages daemon start", s, "ms", lazy_daemon});
    report.add({"restore-steps", "criu restore -d", s, "ms", criu_restore});
    report.add({"restore-steps", "Thaw", s, "ms", thaw});
    // The CLI thaws; Get is called all along (the restore -> first answer).
    if (scenario.cli_restore_options.empty())
      report.add({"restore-steps", "first Get after Thaw", s, "ms", first_call});
    if (scenario.lazy_pages)
      report.add({"restore-steps", "restore start -> all pages in", s, "ms", pages_in});
    if (!scenario.cli_restore_options.empty()) {
      if (lazy_pages_used)
        report.add({"restore-steps", "criu lazy-pages daemon start", s, "ms", lazy_daemon});
      report.add({"restore-steps", "restore start -> dbus-checkpoint restore exited", s, "ms",
                  pages_in});
    }
    for (const auto &[name, samples] : phases)
      report.add({"restore-phases", "criu restore: " + name, s, "ms", samples});
  }

  // A phase of criu restore's log (empty if it never showed).
  Samples phase(const std::string &name) const
  {
    for (const auto &[phase_name, samples] : phases)
      if (phase_name == name)
        return samples;
    return {};
  }
};

// The one-piece plugin against the plugin, run by run: what the split
// changed at restore.
void report_plugin_split(Report &report, const ScenarioSamples &one_piece, const ScenarioSamples &split)
{
  const std::vector<std::pair<std::string, std::pair<Samples, Samples>>> compared = {
      {"criu restore: plugin load", {one_piece.phase("plugin load"), split.phase("plugin load")}},
      {"criu restore: reattach", {one_piece.phase("reattach"), split.phase("reattach")}},
      {"criu restore -d", {one_piece.criu_restore, split.criu_restore}},
      {"restore -> first answered Get", {one_piece.restore, split.restore}},
  };
  for (const auto &[what, pair] : compared) {
    const auto &[before, after] = pair;
    if (before.empty() || after.empty() || before.values.size() != after.values.size())
      continue;
    report.add({"restore-plugin", what, "one-piece plugin", "ms", before});
    report.add({"restore-plugin", what, "plugin + bus module", "ms", after});
    report.add({"restore-plugin", what, "one-piece / split", "x", paired_ratios(before, after)});
  }
}

// What a criu run costs outside its log: exec, the dynamic linker
// (libraries, relocations) and exit, measured as `criu --version` against
// a trivial program, and with the relocations done at once (LD_BIND_NOW)
// instead of lazily.  Interleaved, `runs` times each (at least 21).
void report_criu_exec(Report &report, unsigned runs)
{
  struct Variant {
    const char *subject;
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;
    Samples ms;
  };
  std::vector<Variant> variants = {
      {"/bin/true", {"/bin/true"}, {}, {}},
      {"criu --version", {DCP_CRIU_EXECUTABLE, "--version"}, {}, {}},
      {"criu --version, LD_BIND_NOW=1", {DCP_CRIU_EXECUTABLE, "--version"}, {{"LD_BIND_NOW", "1"}}, {}},
  };
  for (unsigned run = 0; run < std::max(runs, 21u); run++)
    for (Variant &variant : variants) {
      const auto start = Clock::now();
      test::CommandResult result = test::run_command(variant.argv, 10s, variant.env);
      const double ms = milliseconds_between(start, Clock::now());
      if (!result.ok())
        throw std::runtime_error(variant.subject + std::string(": ") + result.describe());
      variant.ms.add(ms);
    }
  for (const Variant &variant : variants)
    report.add({"criu-exec", "run to its end (fork, exec, exit)", variant.subject, "ms", variant.ms});
  for (std::size_t i = 1; i < variants.size(); i++)
    report.add({"criu-exec", "/ /bin/true", variants[i].subject, "x",
                paired_ratios(variants[i].ms, variants[0].ms)});
}

void print_table_if_any(const Report &report, const std::string &title, const std::string &group)
{
  for (const Figure &figure : report.figures())
    if (figure.group == group) {
      report.print_table(title, group);
      return;
    }
}

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-restore", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage, /*default_runs=*/7);
    become_criu_parent();
    Report report(options);
    RestoreBench bench;
    progress("warm-up cycle");
    bench.run_cycle(kScenarios.front());
    std::map<std::string, ScenarioSamples> samples;
    std::optional<std::string> lazy_failure;  // lazy pages are tried, not required
    bool kernel_probe_redone = false;
    bool cli_used_lazy_pages = true;  // every run of kCliLazySubject
    for (unsigned run = 1; run <= options.runs; run++) {
      progress("run " + std::to_string(run) + "/" + std::to_string(options.runs));
      for (const Scenario &scenario : kScenarios) {
        if (scenario.lazy_pages && lazy_failure)
          continue;
        try {
          const CycleTimes times = bench.run_cycle(scenario);
          kernel_probe_redone = kernel_probe_redone || times.kernel_probe_redone;
          if (scenario.subject == kCliLazySubject)
            cli_used_lazy_pages = cli_used_lazy_pages && times.lazy_pages_used;
          samples[scenario.subject].add(times);
        } catch (const std::exception &e) {
          if (!scenario.lazy_pages)
            throw;
          lazy_failure = e.what();
          progress("lazy pages failed: " + *lazy_failure);
        }
      }
    }
    for (const Scenario &scenario : kScenarios)
      if (!(scenario.lazy_pages && lazy_failure))
        samples[scenario.subject].report_to(report, scenario);
    progress("criu --version vs /bin/true");
    report_criu_exec(report, options.runs * 3);
    if (samples.count(kCliLazySubject) && samples.count(kCliEagerSubject)) {
      const ScenarioSamples &lazy = samples[kCliLazySubject];
      const ScenarioSamples &eager = samples[kCliEagerSubject];
      report.add({"restore-lazy", "restore -> first answered Get", "default (lazy pages)", "ms",
                  lazy.restore});
      report.add({"restore-lazy", "restore -> first answered Get", "--no-lazy-pages", "ms",
                  eager.restore});
      report.add({"restore-lazy", "restore -> first answered Get", "--no-lazy-pages / default",
                  "x", paired_ratios(eager.restore, lazy.restore)});
      report.add({"restore-lazy", "restore -> command exited (lazy: all pages in)",
                  "default (lazy pages)", "ms", lazy.pages_in});
      report.add({"restore-lazy", "restore -> command exited (lazy: all pages in)",
                  "--no-lazy-pages", "ms", eager.pages_in});
      if (!cli_used_lazy_pages)
        report.add_note("restore-lazy", "dbus-checkpoint restore did not use lazy pages for "
                                        "the 200 MiB heap (see its log).");
    }
    if (samples.count(kOnePieceSubject) && samples.count(kSplitSubject))
      report_plugin_split(report, samples[kOnePieceSubject], samples[kSplitSubject]);
    if (kernel_probe_redone)
      report.add_note("restore", "criu restore did not find its kernel probe in /run/criu.kdat "
                                 "(an upstream CRIU keeps it only on a tmpfs /run; ours for the "
                                 "boot) and redid it: part of its time.");
    if (lazy_failure)
      report.add_note("restore", "lazy pages (criu lazy-pages + criu restore --lazy-pages) "
                                 "failed here: " + *lazy_failure);
    report.print_table("Restore vs cold start (sd-bus sample service, our daemon)", "restore");
    report.print_table("Checkpoint and restore steps", "restore-steps");
    report.print_table("Where criu restore's time goes (its -v4 log; criu-probe/restore_phases)",
                       "restore-phases");
    print_table_if_any(report, "dbus-checkpoint restore, 200 MiB heap: default (lazy pages) vs "
                               "--no-lazy-pages, run by run", "restore-lazy");
    print_table_if_any(report, "The plugin split: one piece (before) vs plugin + bus module, init 0 ms",
                       "restore-plugin");
    report.print_table("What a criu run costs outside its log: exec, libraries, exit", "criu-exec");
    print_verdicts(report);
  });
}
