// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-wayland: restoring a checkpointed graphical session vs starting
// it cold — test/wayland/session.sh (headless weston, weston-terminal,
// dcp-wayland-counter) on our daemon as session and system bus:
//   - cold start: exec session.sh -> the counter's first frame is on screen
//     (its ready file; the terminal is on screen before it starts) -> the
//     first Get it answers on the session bus (busctl);
//   - restore: that session, checkpointed with `dbus-checkpoint checkpoint`,
//     then `dbus-checkpoint restore` (criu restore -d, Thaw of both
//     connections) -> the first Get it answers (busctl).
// Each cycle does both, the ratio is taken within the cycle.  The restored
// tree is this program's (a child subreaper) and is killed after each cycle.
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bench_support.hpp"
#include "cli/process_tree.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "session_bus.hpp"

using namespace dcp;
using namespace dcp::bench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace criu = dcp::test::criu;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-wayland [--runs N] [--json FILE]
Cold start vs restore (dbus-checkpoint checkpoint/restore, CRIU) of a
graphical session: headless weston, weston-terminal and dcp-wayland-counter,
on our dbus-daemon as private session and system bus.  N runs (>= 5, default
5); --json appends the figures to FILE; --scale is accepted and ignored.
Needs root (CRIU does).
)";

constexpr const char *kGroup = "wayland";

test::CommandResult get_counter(const std::string &address)
{
  return test::run_command({DCP_BUSCTL, "--address=" + address, "call",
                            "org.dbuscheckpoint.WaylandCounter", "/org/dbuscheckpoint/WaylandCounter",
                            "org.dbuscheckpoint.WaylandCounter1", "Get"},
                           10s);
}

struct Cycle {
  double cold_ms = 0, restore_ms = 0, dump_ms = 0, image_mib = 0;
};

class WaylandBench {
 public:
  WaylandBench()
  {
    char tmpl[] = "/tmp/dcp-bench-wayland-XXXXXX";
    if (!mkdtemp(tmpl))
      throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    dir_ = tmpl;
    setenv("WAYLAND_DISPLAY", "dcp-bench-wayland", 1);
  }
  ~WaylandBench()
  {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  Cycle run_cycle(unsigned n)
  {
    const fs::path cycle_dir = dir_ / std::to_string(n);
    const fs::path runtime = cycle_dir / "runtime";
    fs::create_directories(runtime);
    fs::permissions(runtime, fs::perms::owner_all);
    setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
    const fs::path ready = cycle_dir / "ready";
    Cycle cycle;

    const auto started = Clock::now();
    test::ChildProcess session({"/bin/sh", DCP_WAYLAND_SESSION_SH, DCP_WAYLAND_COUNTER,
                                ready.string(), DCP_WAYLAND_SCREENSHOT_CHECK},
                               (cycle_dir / "session.log").string(), /*new_session=*/true);
    const pid_t root = session.pid();
    if (!test::wait_until([&] { return fs::exists(ready); }, 60s))
      throw std::runtime_error("the session did not come up: " +
                               test::read_file(cycle_dir / "session.log"));
    if (test::CommandResult r = get_counter(session_bus_.address()); !r.ok())
      throw std::runtime_error("Get: " + r.describe());
    cycle.cold_ms = milliseconds_between(started, Clock::now());

    auto tree = dbus_checkpoint::cli::process_tree(root);
    if (!tree)
      throw std::runtime_error("process tree: " + tree.error().message);
    const fs::path images = cycle_dir / "images";
    const auto dump_started = Clock::now();
    test::CommandResult dumped = test::run_command(
        {DCP_CLI, "checkpoint", "--pid", std::to_string(root), "-D", images.string()}, 120s);
    if (!dumped.ok())
      throw std::runtime_error("checkpoint: " + dumped.describe());
    cycle.dump_ms = milliseconds_between(dump_started, Clock::now());
    cycle.image_mib = static_cast<double>(criu::directory_bytes(images)) / (1024.0 * 1024.0);
    for (const auto &process : tree.value())
      criu::wait_until_gone(process.id.pid, 10s);  // reaped: restore needs the pids

    const auto restore_started = Clock::now();
    test::CommandResult restored =
        test::run_command({DCP_CLI, "restore", "-D", images.string()}, 120s);
    if (!restored.ok())
      throw std::runtime_error("restore: " + restored.describe());
    if (test::CommandResult r = get_counter(session_bus_.address()); !r.ok())
      throw std::runtime_error("Get after restore: " + r.describe());
    cycle.restore_ms = milliseconds_between(restore_started, Clock::now());
    test::wayland::kill_tree(root);
    return cycle;
  }

 private:
  test::PrivateSystemBus system_bus_;
  test::wayland::PrivateSessionBus session_bus_;
  fs::path dir_;
};

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-wayland", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage);
    become_criu_parent();
    Report report(options);
    WaylandBench bench;
    progress("warm-up cycle");
    bench.run_cycle(0);
    Samples cold, restore, dump, image;
    for (unsigned run = 1; run <= options.runs; run++) {
      progress("run " + std::to_string(run) + "/" + std::to_string(options.runs));
      const Cycle cycle = bench.run_cycle(run);
      cold.add(cycle.cold_ms);
      restore.add(cycle.restore_ms);
      dump.add(cycle.dump_ms);
      image.add(cycle.image_mib);
    }
    const std::string subject = "weston + 2 clients";
    report.add({kGroup, "cold start -> on screen, Get answered", subject, "ms", cold});
    report.add({kGroup, "dbus-checkpoint restore -> Get answered", subject, "ms", restore});
    report.add({kGroup, "cold / restore", subject, "x", paired_ratios(cold, restore)});
    report.add({kGroup, "dbus-checkpoint checkpoint", subject, "ms", dump});
    report.add({kGroup, "image size", subject, "MiB", image});
    report.print_table("Graphical session: restore vs cold start (our daemon, session + system bus)",
                       kGroup);
  });
}
