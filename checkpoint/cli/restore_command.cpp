// SPDX-License-Identifier: GPL-2.0-or-later
// dbus-checkpoint restore -D DIR: wait for the dumped pids to be free,
// criu restore with our plugin (which Reattaches each connection), mark
// the checkpoint restored, thaw the connections.
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/criu_steps.hpp"
#include "cli/files.hpp"
#include "cli/journal_check.hpp"
#include "cli/json.hpp"
#include "cli/manifest.hpp"
#include "cli/process_tree.hpp"
#include "cli/systemd_unit.hpp"
#include "cli/unit_sandbox.hpp"
#include "criu-probe/restore_phases.hpp"
#include "base/child_process.hpp"
#include "base/program.hpp"
#include "base/unique_fd.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::CheckpointBus;
using base::Error;
using bus_client::FrozenConnection;
using base::Result;

// After criu dump kills a process, PID 1 here reaps it 1–2 s later; CRIU
// cannot give the pid back before that ("File exists").
constexpr std::chrono::seconds kPidWaitTimeout{10};

// CRIU lets a restored task go right after its rt_sigreturn; a signal that
// became pending during the restore (SIGXFSZ, say) kills it as soon as it
// runs.  When criu has exited, a restored process that is still there and
// has no such signal pending has come through; one that has is given this
// long to die before the processes are checked (there is nothing to wait
// for otherwise: the check costs no fixed sleep).
constexpr std::chrono::milliseconds kPendingDeathTimeout{1000};

// How long `criu lazy-pages` may take to open its socket.
constexpr std::chrono::seconds kLazyPagesSocketTimeout{10};

// What the images' memory pages take: the sum of DIR/pages-*.img.
std::uint64_t memory_pages_bytes(const fs::path &dir)
{
  std::uint64_t bytes = 0;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("pages-") && name.ends_with(".img") && entry.is_regular_file(error))
      bytes += entry.file_size(error);
  }
  return bytes;
}

// Whether this restore uses lazy pages, and why (or why not).
struct LazyPagesChoice {
  bool use = false;
  std::string why;  // "1.2 GiB of pages > --lazy-pages-above 64 MiB", "--no-lazy-pages", ...
};

LazyPagesChoice choose_lazy_pages(const Invocation &invocation, const CheckpointManifest &manifest,
                                  std::uint64_t pages)
{
  // As a unit's start (every sandboxed restore is one), criu runs with the
  // unit's sandbox and cgroup: the daemon would be a second, long-lived
  // process of the service for systemd, and userfaultfd may be refused by
  // its system call filter; the start copies every page instead.
  if (const auto &server = manifest.page_server)
    return {true, "the pages are on migrate's page server " + server->address + ":" +
                      std::to_string(server->port)};
  if (manifest.sandbox || (manifest.systemd_unit && running_as_start_of(manifest.systemd_unit->name)))
    return {false, "not as a systemd unit's start"};
  if (!invocation.lazy_pages_above)
    return {false, "--no-lazy-pages"};
  const std::string threshold = format_bytes(*invocation.lazy_pages_above);
  if (pages > *invocation.lazy_pages_above)
    return {true, format_bytes(pages) + " of pages > " + threshold};
  return {false, format_bytes(pages) + " of pages <= " + threshold};
}

// `criu lazy-pages -D DIR ...` started: it opens its socket
// DIR/lazy-pages.socket while the restore's other checks run (its start-up,
// ≈ 10 ms, is then off the restore's path).  For migrate's images it
// fetches the pages from the source's page server (--page-server).
Result<base::ChildProcess> launch_lazy_pages(const CriuSetup &setup, const fs::path &dir,
                                             const CheckpointManifest &manifest)
{
  std::vector<std::string> arguments;
  if (const auto &server = manifest.page_server)
    arguments = {"--page-server", "--address", server->address, "--port",
                 std::to_string(server->port)};
  std::error_code error;
  fs::remove(dir / "lazy-pages.socket", error);  // one of a try that failed would look ready
  return start_criu(setup, "lazy-pages", dir, arguments, /*in_new_session=*/true);
}

// The launched daemon's socket open: criu restore --lazy-pages may run.  An
// error (with its log's tail) if it ended first or did not open it within
// kLazyPagesSocketTimeout of its launch.
Result<void> wait_for_lazy_pages(base::ChildProcess &daemon, const fs::path &dir,
                                 Clock::time_point launched)
{
  const fs::path socket = dir / "lazy-pages.socket";
  std::error_code error;
  const auto deadline = launched + kLazyPagesSocketTimeout;
  const auto log_tail = [&] {
    auto log = read_whole_file(dir / "lazy-pages.log");
    return log ? "; its log:\n" + base::last_lines(log.value(), kLogTailLines, "  ") : std::string();
  };
  while (!fs::exists(socket, error)) {
    if (auto status = daemon.wait_for(std::chrono::milliseconds(2)))
      return Error{"", "criu lazy-pages ended before it opened " + socket.string() + " (" +
                           describe_wait_status(*status) + ")" + log_tail()};
    if (Clock::now() > deadline)
      return Error{"", "criu lazy-pages did not open " + socket.string() + " within " +
                           std::to_string(kLazyPagesSocketTimeout.count()) + " s" + log_tail()};
  }
  return {};
}

std::string pid_text(CheckpointBus &bus, const std::string &name)
{
  auto pid = bus.connection_pid(name);
  return pid ? "pid " + std::to_string(pid.value()) : "pid unknown";
}

const FrozenConnection *find_frozen(const std::vector<FrozenConnection> &frozen,
                                    const ManifestConnection &connection)
{
  auto found = std::find_if(frozen.begin(), frozen.end(), [&](const FrozenConnection &f) {
    return f.id == connection.id || f.unique_name == connection.unique_name;
  });
  return found == frozen.end() ? nullptr : &*found;
}

// Refuses what would make CRIU's plugin fail: a connection already attached
// to a process, or (for one the bus no longer holds, which the plugin will
// Import) a name of it owned by someone else now.
Result<void> check_bus_allows_restore(CheckpointBus &bus,
                                      const std::vector<ManifestConnection> &connections,
                                      const fs::path &dir)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return frozen.error();
  for (const ManifestConnection &connection : connections) {
    if (const FrozenConnection *known = find_frozen(frozen.value(), connection)) {
      if (known->attached)
        return Error{"", "checkpoint " + connection.id + " (" + connection.unique_name +
                             ") is attached to a running process already (pid " +
                             std::to_string(known->pid) + "): restored before?"};
      continue;
    }
    // This command's own connection lets go of its name before CRIU runs.
    auto taken_by_another = [&](const std::string &name) -> std::optional<std::string> {
      auto owner = bus.name_owner(name);
      if (!owner || owner.value() == bus.unique_name())
        return std::nullopt;
      return owner.value() + " (" + pid_text(bus, owner.value()) + ")";
    };
    const std::string unknown = "the bus does not hold checkpoint " + connection.id +
                                " (discarded, or a bus without its record), so the plugin must "
                                "Import it";
    const std::string kept = "; the images in " + dir.string() + " are kept";
    if (auto other = taken_by_another(connection.unique_name))
      return Error{"", "the unique name " + connection.unique_name + " is in use by " + *other +
                           ": " + unknown + ", which needs it free" + kept};
    for (const std::string &name : connection.names)
      if (auto other = taken_by_another(name))
        return Error{"", name + " is owned by " + *other + " now: " + unknown +
                             ", and another connection took the name (stop it to restore)" +
                             kept};
  }
  return {};
}

Result<Clock::duration> wait_for_free_pids(const CheckpointManifest &manifest)
{
  const auto started = Clock::now();
  std::vector<pid_t> in_use = wait_until_gone(manifest.processes, kPidWaitTimeout);
  if (in_use.empty())
    return Clock::now() - started;
  const pid_t pid = in_use.front();
  auto process = read_process(pid);
  return Error{"", "pid " + std::to_string(pid) + " is still in use after " +
                       std::to_string(kPidWaitTimeout.count()) + " s (" + process_name(pid) +
                       ", state " + std::string(1, process ? process->state : '?') +
                       "): CRIU gives the checkpoint's processes their old pids, so the dumped "
                       "process must be gone (is it still running, or restored already?)"};
}

// The ids the restored connections have on the bus now (the plugin may have
// Imported a record under a new id), in the manifest's order.
Result<std::vector<ManifestConnection>> restored_connections(
    CheckpointBus &bus, std::vector<ManifestConnection> connections)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return frozen.error();
  for (ManifestConnection &connection : connections) {
    const FrozenConnection *now = find_frozen(frozen.value(), connection);
    if (!now)
      return Error{"", "after criu restore the bus holds no frozen connection " +
                           connection.unique_name + " (checkpoint " + connection.id + ")"};
    connection.id = now->id;
  }
  return connections;
}

// A checkpoint's connections on one bus (address empty: the command's own).
struct BusConnections {
  std::string address;
  std::vector<ManifestConnection> connections;
};

std::vector<BusConnections> connections_by_bus(const CheckpointManifest &manifest)
{
  std::vector<BusConnections> buses{{"", {}}};  // the command's own bus first
  for (const ManifestConnection &connection : manifest.connections) {
    auto on = std::find_if(buses.begin(), buses.end(), [&](const BusConnections &b) {
      return b.address == connection.bus;
    });
    if (on == buses.end())
      on = buses.insert(buses.end(), BusConnections{connection.bus, {}});
    on->connections.push_back(connection);
  }
  return buses;
}

bus_client::BusAddress where(const Invocation &invocation, const std::string &address)
{
  return address.empty() ? invocation.bus : bus_client::BusAddress{address};
}

// Each restored process still runs.  Those that ended are reaped (this
// command is their subreaper: criu -d leaves them to it) and described:
// "pid N (rtkit-daemon) exited right after restore: killed by signal 25 (…)".
std::vector<std::string> restored_processes_that_ended(const CheckpointManifest &manifest)
{
  std::vector<std::string> ended;
  for (pid_t pid : manifest.processes) {
    auto process = read_process(pid);
    if (process && process->state != 'Z' && process->state != 'X')
      continue;
    std::string name = process_name(pid);
    if (name.empty())
      name = pid == manifest.pid ? manifest.command : "?";
    int status = 0;
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    ended.push_back("pid " + std::to_string(pid) + " (" + name + ") exited right after restore: " +
                    (reaped == pid ? describe_wait_status(status)
                                   : std::string("its status went to another process")));
  }
  return ended;
}

// Until `pid` has exited (a zombie or gone, not reaped) or the timeout: a
// pidfd becomes readable when its process exits.
void wait_until_exited(pid_t pid, std::chrono::milliseconds timeout)
{
  base::UniqueFd process(base::open_pidfd(pid));
  if (!process)
    return;  // gone already
  struct pollfd exited{process.get(), POLLIN, 0};
  ::poll(&exited, 1, static_cast<int>(timeout.count()));
}

// The processes of a restore that failed half-way are killed, so that their
// pids are free for the next try; their connections stay frozen, detached.
void kill_restored_processes(const CheckpointManifest &manifest)
{
  for (pid_t pid : manifest.processes)
    if (pid_in_use(pid) && ::kill(pid, SIGKILL) == 0)
      ::waitpid(pid, nullptr, 0);
}

// Every connection of the checkpoint is attached to a socket again (our
// plugin's Reattach in the restored process).
Result<void> check_reattached(CheckpointBus &bus, const std::vector<ManifestConnection> &connections)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return frozen.error();
  for (const ManifestConnection &connection : connections) {
    const FrozenConnection *now = find_frozen(frozen.value(), connection);
    if (!now || !now->attached)
      return Error{"", "connection " + connection.unique_name + " (checkpoint " + connection.id +
                           ") did not reattach to the bus after criu restore"};
  }
  return {};
}

// After criu restore: the processes live and their connections are
// attached, on each bus (with the ids they have there now); otherwise the restored processes are killed, the connections
// stay frozen and detached, and the images are kept, so that the restore
// can be tried again.
Result<std::vector<BusConnections>> check_restore_took(const Invocation &invocation,
                                                       std::vector<BusConnections> buses,
                                                       const CheckpointManifest &manifest,
                                                       const fs::path &dir)
{
  for (pid_t pid : manifest.processes)
    if (fatal_signals_pending(pid) != 0)
      wait_until_exited(pid, kPendingDeathTimeout);
  const std::string retry = "\nits bus connections stay frozen and detached; the images in " +
                            dir.string() + " are kept: dbus-checkpoint restore -D " +
                            dir.string() + " tries again";
  std::vector<std::string> ended = restored_processes_that_ended(manifest);
  if (!ended.empty()) {
    kill_restored_processes(manifest);
    Error error{"", ""};
    for (const std::string &line : ended)
      error.message += (error.message.empty() ? "" : "\n") + line;
    return Error{"", error.message + retry};
  }
  for (BusConnections &on_bus : buses) {
    auto bus = CheckpointBus::connect(where(invocation, on_bus.address));
    if (!bus) {
      kill_restored_processes(manifest);
      return Error{bus.error().name, bus.error().message + retry};
    }
    auto connections = restored_connections(bus.value(), on_bus.connections);
    Result<void> attached = connections ? check_reattached(bus.value(), connections.value())
                                        : Result<void>(connections.error());
    if (!attached) {
      kill_restored_processes(manifest);
      return Error{attached.error().name, attached.error().message + retry};
    }
    on_bus.connections = std::move(connections).value();
  }
  return buses;
}

// "  of which (criu's log): start-up 5.2, plugin load 23.6, …; criu's exec
// and exit 40.1 ms\n" from DIR/restore.log, or "" if it has no timestamps.
std::string restore_phases_line(const fs::path &dir, Clock::duration restore)
{
  auto log = read_whole_file(dir / "restore.log");
  const std::vector<criu::Phase> phases = log ? criu::restore_phases(log.value()) : std::vector<criu::Phase>{};
  if (phases.empty())
    return "";
  const double outside_ms = to_milliseconds(restore) - criu::logged_ms(phases);
  return "  of which (criu's log): " + criu::describe_phases(phases) +
         (outside_ms > 0 ? "; before and after its log (exec, libraries, exit) " +
                               format_milliseconds(outside_ms)
                         : std::string()) +
         "\n";
}

struct RestoreTimes {
  Clock::duration wait{}, restore{}, thaw{}, total{};
  std::uint64_t pages_bytes = 0;   // DIR/pages-*.img
  bool lazy_pages = false;         // restored with criu lazy-pages
  std::string lazy_pages_why;      // why (not)
  Clock::duration lazy_start{};    // lazy pages: its launch -> its socket
  Clock::duration lazy_wait{};     // lazy pages: of that, waited for before criu restore
  Clock::duration pages_in{};      // lazy pages: restore start -> it exited
  std::string lazy_pages_warning;  // it failed, or was still serving pages
};

void print_restore(const Output &output, const CheckpointManifest &manifest, const fs::path &dir,
                   const std::vector<ManifestConnection> &connections, const RestoreTimes &times)
{
  if (output.json) {
    std::vector<std::string> ids;
    for (const ManifestConnection &connection : connections)
      ids.push_back(connection.id);
    output.data << json_text({{"command", "restore"},
                               {"dir", dir.string()},
                               {"pid", manifest.pid},
                               {"process_name", manifest.command},
                               {"ids", ids},
                               {"wait_ms", json_milliseconds(to_milliseconds(times.wait))},
                               {"restore_ms", json_milliseconds(to_milliseconds(times.restore))},
                               {"thaw_ms", json_milliseconds(to_milliseconds(times.thaw))},
                               {"total_ms", json_milliseconds(to_milliseconds(times.total))},
                               {"pages_bytes", times.pages_bytes},
                               {"lazy_pages", times.lazy_pages},
                               {"lazy_pages_why", times.lazy_pages_why},
                               {"lazy_pages_start_ms",
                                json_milliseconds(to_milliseconds(times.lazy_start))},
                               {"lazy_pages_wait_ms",
                                json_milliseconds(to_milliseconds(times.lazy_wait))},
                               {"pages_in_ms", json_milliseconds(to_milliseconds(times.pages_in))},
                               {"lazy_pages_warning", times.lazy_pages_warning}})
                << "\n";
    return;
  }
  output.report << "restore of pid " << manifest.pid << " (" << manifest.command << ") from "
                << dir.string() << "\n"
                << "waited " << format_milliseconds(times.wait) << " for its pids to be free\n"
                << (times.lazy_pages ? "lazy pages (" + times.lazy_pages_why + "): criu lazy-pages "
                                           "ready in " + format_milliseconds(times.lazy_start) + " (" +
                                           format_milliseconds(times.lazy_wait) +
                                           " of it after the checks)\n"
                                     : "no lazy pages (" + times.lazy_pages_why + ")\n")
                << "restored by criu in " << format_milliseconds(times.restore) << "\n"
                << restore_phases_line(dir, times.restore) << "thawed " << count_connections(connections.size()) << " in "
                << format_milliseconds(times.thaw) << (connections.empty() ? "\n" : ":\n")
                << connection_table(connections) << "done in "
                << format_milliseconds(times.total) << " (wait "
                << format_milliseconds(times.wait) << ", restore "
                << format_milliseconds(times.restore) << ", thaw "
                << format_milliseconds(times.thaw) << ")\n";
  if (times.lazy_pages && times.lazy_pages_warning.empty())
    output.report << "all pages in " << format_milliseconds(times.pages_in)
                  << " after the restore started (criu lazy-pages exited)\n";
  if (!times.lazy_pages_warning.empty())
    output.report << "dbus-checkpoint: restore: warning: " << times.lazy_pages_warning << "\n";
}

// The last lines systemd's journal has of the unit (for a failed start).
std::string unit_journal_tail(const std::string &unit)
{
  base::ProgramCommand command;
  command.argv = {::access("/usr/bin/journalctl", X_OK) == 0 ? "/usr/bin/journalctl" : "/bin/journalctl",
                  "-u", unit, "-n", "15", "--no-pager", "-o", "cat"};
  command.timeout = std::chrono::seconds(10);
  auto run = base::run_program(command);
  return run && run.value().succeeded() ? run.value().output : std::string();
}

// A checkpoint of a systemd service's main process whose unit's start is
// the restore (its drop-in is there): `systemctl start UNIT`, which runs
// this program again as the unit's ExecStart (running_as_start_of), then
// systemd's view is checked.  nullopt: not such a checkpoint.
std::optional<int> restore_through_unit(const Invocation &invocation, const Output &output,
                                        const fs::path &dir, Clock::time_point started)
{
  auto manifest = load_manifest(dir);
  if (!manifest || !manifest.value().systemd_unit || manifest.value().restored)
    return std::nullopt;  // the locked path below reports what is wrong
  const ManifestUnit &unit = *manifest.value().systemd_unit;
  std::error_code error;
  if (running_as_start_of(unit.name) || !fs::exists(unit.drop_in, error))
    return std::nullopt;
  const auto fail = [&](const Error &e) { return report_failure(output, "restore", e); };
  if (!output.json)
    output.report << "systemd: the start of " << unit.name << " is this restore (drop-in "
                  << unit.drop_in << "): systemctl start " << unit.name << "\n";
  auto unit_started = systemctl({"start", unit.name}, invocation.criu_timeout + std::chrono::seconds(60));
  if (!unit_started) {
    std::string journal = unit_journal_tail(unit.name);
    return fail(Error{"", unit_started.error().message +
                              (journal.empty() ? "" : "\nthe unit's journal (journalctl -u " + unit.name +
                                                          "):\n" + journal) +
                              "\nthe checkpoint stays pending: the unit's start still restores it"});
  }
  // The restore removed the drop-in; systemd reloads on its own after the
  // start (ExecStartPost), and here once more, so that it is done when
  // this command returns.
  if (fs::exists(unit.drop_in, error))
    (void)give_back_unit(UnitTakeover{unit.name, unit.drop_in, pid_file_path(unit.name)}, false);
  if (auto reloaded = systemctl({"daemon-reload"}, std::chrono::seconds(60)); !reloaded)
    return fail(reloaded.error());
  const std::string state = unit_property(unit.name, "ActiveState");
  const std::string sub_state = unit_property(unit.name, "SubState");
  const std::string main_pid = unit_property(unit.name, "MainPID");
  const double total_ms = to_milliseconds(Clock::now() - started);
  if (state != "active" || main_pid != std::to_string(manifest.value().pid))
    return fail(Error{"", "after systemctl start " + unit.name + " the unit is " + state + " (" + sub_state +
                              ") with main pid " + main_pid + ", not the restored pid " +
                              std::to_string(manifest.value().pid)});
  if (output.json) {
    output.data << json_text({{"command", "restore"},
                               {"dir", dir.string()},
                               {"pid", manifest.value().pid},
                               {"process_name", manifest.value().command},
                               {"systemd_unit", unit.name},
                               {"active_state", state},
                               {"main_pid", manifest.value().pid},
                               {"total_ms", json_milliseconds(total_ms)}})
                << "\n";
  } else {
    output.report << "systemd: " << unit.name << " is " << state << " (" << sub_state << "), main pid "
                  << main_pid << ": the restored process; its own start is back (drop-in removed, "
                  << "configuration reloaded)\n"
                  << "restored by criu (through " << unit.name << "); done in "
                  << format_milliseconds(total_ms) << "\n";
  }
  return kExitSuccess;
}

// The restore run as the unit's start: the pid file systemd reads for the
// main pid, and the drop-in removed (systemd reloads after the start).
void finish_unit_start(const Output &output, const CheckpointManifest &manifest)
{
  if (!manifest.systemd_unit || !running_as_start_of(manifest.systemd_unit->name))
    return;
  const ManifestUnit &unit = *manifest.systemd_unit;
  const UnitTakeover takeover{unit.name, unit.drop_in, pid_file_path(unit.name)};
  std::error_code error;
  fs::create_directories(takeover.pid_file.parent_path(), error);
  auto written = replace_file(takeover.pid_file, std::to_string(manifest.pid) + "\n", 0644);
  auto given_back = give_back_unit(takeover, false);
  output.report << "systemd: " << unit.name << "'s main pid is " << manifest.pid << " ("
                << (written ? "written to " + takeover.pid_file.string() : written.error().message)
                << "); " << (given_back ? "removed " + unit.drop_in : given_back.error().message)
                << ": systemd reloads its configuration once the unit is started\n";
}

// DIR's manifest, once it is there (migrate writes it by a rename);
// inotify wakes us, the deadline ends the wait.
Result<CheckpointManifest> wait_for_manifest(const fs::path &dir, std::chrono::seconds limit)
{
  base::UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!watch || ::inotify_add_watch(watch.get(), dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
    return Error{"", "cannot watch " + dir.string() + ": " + std::strerror(errno)};
  const auto deadline = Clock::now() + limit;
  std::error_code error;
  while (!fs::exists(manifest_path(dir), error)) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return Error{"", "no migration arrived in " + dir.string() + " within " +
                           std::to_string(limit.count()) + " s (--wait)"};
    pollfd event{watch.get(), POLLIN, 0};
    ::poll(&event, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    char drained[4096];
    while (::read(watch.get(), drained, sizeof drained) > 0) {
    }
  }
  return load_manifest(dir);
}

int restore_with(const Invocation &invocation, const Output &output, CriuSetup setup,
                 Clock::time_point started);

} // namespace

int run_receive(const Invocation &invocation, const Output &output)
{
  const auto fail = [&](const Error &error) { return report_failure(output, "receive", error); };
  if (::geteuid() != 0)  // before DIR is made
    return fail(Error{"", "receive must run as root (criu restore creates processes with given "
                          "pids); this is uid " + std::to_string(::geteuid())});
  std::error_code error;
  const fs::path dir = fs::absolute(invocation.images_dir, error).lexically_normal();
  if (auto trusted = check_trusted_directory(dir, true); !trusted)
    return fail(trusted.error());
  const auto waiting = Clock::now();
  if (!output.json)
    output.report << "receive: waiting for a migration into " << dir.string() << " (at most "
                  << invocation.receive_wait.count() << " s)\n";
  // While it waits: criu's kernel probe, cached for the boot, is then not
  // paid by criu lazy-pages and criu restore while the service is frozen.
  auto setup = check_root_and_criu("receive", "criu restore creates processes with given pids",
                                   invocation.criu_path, invocation.plugin_dir, invocation.bus,
                                   invocation.criu_timeout);
  if (!setup)
    return fail(setup.error());
  prepare_kdat_cache(setup.value());
  auto manifest = wait_for_manifest(dir, invocation.receive_wait);
  if (!manifest)
    return fail(manifest.error());
  if (!output.json)
    output.report << "receive: the images of pid " << manifest.value().pid << " ("
                  << manifest.value().command << ") arrived after "
                  << format_milliseconds(Clock::now() - waiting)
                  << (manifest.value().page_server
                          ? "; its pages come from " + manifest.value().page_server->address + ":" +
                                std::to_string(manifest.value().page_server->port)
                          : std::string("; its pages are in the directory"))
                  << "\n";
  return restore_with(invocation, output, setup.value(), Clock::now());
}

int run_restore(const Invocation &invocation, const Output &output)
{
  const auto started = Clock::now();
  auto setup = check_root_and_criu("restore", "criu restore creates processes with given pids",
                                   invocation.criu_path, invocation.plugin_dir, invocation.bus,
                                   invocation.criu_timeout);
  if (!setup)
    return report_failure(output, "restore", setup.error());
  return restore_with(invocation, output, setup.value(), started);
}

namespace {

// restore once root and criu are checked (`setup`), timed from `started`;
// receive comes here too once its images arrived.
int restore_with(const Invocation &invocation, const Output &output, CriuSetup setup,
                 Clock::time_point started)
{
  const auto fail = [&](const Error &error) { return report_failure(output, "restore", error); };
  std::error_code error;
  const fs::path dir = fs::absolute(invocation.images_dir, error).lexically_normal();
  // its files say which processes root creates and what the plugin connects to
  if (auto trusted = check_trusted_directory(dir, false); !trusted)
    return fail(trusted.error());
  // the plugin reopens the service's journal sockets: journald must answer
  if (auto journald = check_journald_answers(dir); !journald)
    return fail(journald.error());
  if (std::optional<int> through_unit = restore_through_unit(invocation, output, dir, started))
    return *through_unit;
  auto lock = DirectoryLock::take(dir, "another dbus-checkpoint restore is using it");
  if (!lock)
    return fail(lock.error());
  auto manifest = load_manifest(dir);
  if (!manifest)
    return fail(manifest.error());
  // restored anywhere else, it would run without its sandbox
  if (manifest.value().sandbox && manifest.value().systemd_unit &&
      !running_as_start_of(manifest.value().systemd_unit->name))
    return fail(Error{"", "pid " + std::to_string(manifest.value().pid) + " was dumped from inside "
                          "the sandbox of " + manifest.value().systemd_unit->name + " and is "
                          "restored only as that unit's start (systemctl start " +
                          manifest.value().systemd_unit->name + "), inside its sandbox; its drop-in " +
                          manifest.value().systemd_unit->drop_in + " is gone"});
  if (manifest.value().page_server && !invocation.lazy_pages_above)
    return fail(Error{"", "the pages of " + dir.string() + " are on migrate's page server, not in "
                          "the directory: only lazy pages fetch them (no --no-lazy-pages)"});
  if (const auto &mark = manifest.value().restored)
    return fail(Error{"", dir.string() + " was restored already, at " +
                              format_local_time(mark->at_usec) + " (pid " +
                              std::to_string(manifest.value().pid) +
                              "): a checkpoint restores once; take a new one to restore again"});
  // Lazy pages: `criu lazy-pages` serves the pages through userfaultfd
  // while and after criu restore --lazy-pages runs; it ends once every page
  // is in.  Launched now, so that its start-up overlaps the checks below;
  // killed with `lazy_launch` or `lazy_pages` if the restore fails (nothing
  // of it runs then); once the restore took, the restored process needs it:
  // it is waited for, or left running (forget).  In a session of its own:
  // the caller's ^C does not reach it.
  const std::uint64_t pages_bytes = memory_pages_bytes(dir);
  const LazyPagesChoice lazy = choose_lazy_pages(invocation, manifest.value(), pages_bytes);
  const auto lazy_launched = Clock::now();
  Result<base::ChildProcess> lazy_launch =
      lazy.use ? launch_lazy_pages(setup, dir, manifest.value())
               : Result<base::ChildProcess>(base::ChildProcess());
  base::ChildProcess lazy_pages;
  // Each bus the checkpoint's connections are on: the command's own, and
  // those named in the manifest (a session bus).
  const std::vector<BusConnections> buses = connections_by_bus(manifest.value());
  for (const BusConnections &on_bus : buses) {
    auto bus = CheckpointBus::connect(where(invocation, on_bus.address));
    if (!bus)
      return fail(bus.error());
    if (auto allowed = check_bus_allows_restore(bus.value(), on_bus.connections, dir); !allowed)
      return fail(allowed.error());
  }  // disconnected: a bus that starts unique names afresh may want ours back

  RestoreTimes times;
  auto waited = wait_for_free_pids(manifest.value());
  if (!waited)
    return fail(waited.error());
  times.wait = waited.value();
  for (const BusConnections &on_bus : buses)
    if (!on_bus.address.empty())
      setup.other_bus_addresses.push_back(on_bus.address);
  // criu -d leaves the restored processes to their nearest subreaper: this
  // command, so that it can tell how one that died right away ended.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> criu_arguments = {"-d"};
  criu_arguments.insert(criu_arguments.end(), manifest.value().criu_options.begin(),
                        manifest.value().criu_options.end());
  if (const auto &sandbox = manifest.value().sandbox)
    for (const std::string &option : sandbox_restore_options(*sandbox))
      criu_arguments.push_back(option);
  times.pages_bytes = pages_bytes;
  times.lazy_pages_why = lazy.why;
  const auto restore_started = Clock::now();
  if (lazy.use) {
    const base::Status ready = lazy_launch ? wait_for_lazy_pages(lazy_launch.value(), dir, lazy_launched)
                                           : base::Status(lazy_launch.error());
    if (!ready && manifest.value().page_server)  // no pages here to restore without them
      return fail(Error{"", lazy.why + ", but " + ready.error().message});
    if (!ready) {  // nothing is restored yet: without them
      times.lazy_pages_why = lazy.why + ", but " + ready.error().message +
                             "\nrestoring without lazy pages";
    } else {
      lazy_pages = std::move(lazy_launch).value();
      times.lazy_pages = true;
      times.lazy_start = Clock::now() - lazy_launched;
      times.lazy_wait = Clock::now() - restore_started;
      criu_arguments.push_back("--lazy-pages");
    }
  }
  // A shell job joins criu's session: criu leads a new one, so the restored
  // service gets a session of its own, not the caller's terminal session.
  auto restored = run_criu(setup, "restore", dir, criu_arguments,
                           /*in_new_session=*/manifest.value().restores_in_new_session());
  if (!restored)
    return fail(Error{"", restored.error().message + "\nthe images in " + dir.string() +
                              " are kept"});
  times.restore = restored.value();

  auto restored_buses = check_restore_took(invocation, buses, manifest.value(), dir);
  if (!restored_buses)
    return fail(restored_buses.error());
  // From here on the restored process faults its pages in from it.
  const auto leave_lazy_pages_running = [&] {
    if (!lazy_pages.running())
      return std::string();
    const pid_t pid = lazy_pages.pid();
    lazy_pages.forget();
    return "criu lazy-pages (pid " + std::to_string(pid) + ") still serves the restored "
           "process's pages: keep " + dir.string() + " until it has exited";
  };
  // Marked now: from here on these images belong to a running process.
  manifest.value().restored = RestoreMark{realtime_usec(), to_milliseconds(times.restore)};
  auto marked = save_manifest(dir, manifest.value());

  std::vector<ManifestConnection> thawed;
  std::vector<std::string> failures;
  const auto thaw_started = Clock::now();
  for (const BusConnections &on_bus : restored_buses.value()) {
    auto bus = CheckpointBus::connect(where(invocation, on_bus.address));
    if (!bus)
      return fail(bus.error());
    for (const std::string &failure : thaw_connections(bus.value(), on_bus.connections))
      failures.push_back(failure);
    thawed.insert(thawed.end(), on_bus.connections.begin(), on_bus.connections.end());
  }
  times.thaw = Clock::now() - thaw_started;
  times.total = Clock::now() - started;
  if (!failures.empty()) {
    Error thaw_error{"", "pid " + std::to_string(manifest.value().pid) +
                             " is restored but stays frozen on the bus:"};
    for (const std::string &failure : failures)
      thaw_error.message += "\ncannot thaw " + failure;
    for (const std::string &ended : restored_processes_that_ended(manifest.value()))
      thaw_error.message += "\n" + ended;
    if (std::string running = leave_lazy_pages_running(); !running.empty())
      thaw_error.message += "\n" + running;
    return fail(thaw_error);
  }
  // The service runs and answers; the command ends when every page is in
  // (the images are no longer needed then), within --criu-timeout.
  if (lazy_pages.running()) {
    auto status = lazy_pages.wait_for(invocation.criu_timeout);
    if (!status)
      times.lazy_pages_warning = leave_lazy_pages_running() + " (it did not finish within "
                                 "--criu-timeout)";
    else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
      times.lazy_pages_warning = "criu lazy-pages ended with " + describe_wait_status(*status) +
                                 " (see " + (dir / "lazy-pages.log").string() + ")";
    times.pages_in = Clock::now() - restore_started;
  }
  print_restore(output, manifest.value(), dir, thawed, times);
  finish_unit_start(output, manifest.value());
  if (!marked)
    output.report << "dbus-checkpoint: restore: warning: cannot mark " << dir.string()
                  << " restored: " << marked.error().message << "\n";
  return kExitSuccess;
}

} // namespace

} // namespace dbus_checkpoint::cli
