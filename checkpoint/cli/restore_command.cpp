// dbus-checkpoint restore -D DIR: wait for the dumped pids to be free,
// criu restore with our plugin (which Reattaches each connection), mark
// the checkpoint restored, thaw the connections.
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "cli/commands.hpp"
#include "cli/criu_steps.hpp"
#include "cli/files.hpp"
#include "cli/json.hpp"
#include "cli/manifest.hpp"
#include "cli/process_tree.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::CheckpointBus;
using bus_client::Error;
using bus_client::FrozenConnection;
using bus_client::Result;

// After criu dump kills a process, PID 1 here reaps it 1–2 s later; CRIU
// cannot give the pid back before that ("File exists").
constexpr std::chrono::seconds kPidWaitTimeout{10};

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
Result<void> check_bus_allows_restore(CheckpointBus &bus, const CheckpointManifest &manifest,
                                      const fs::path &dir)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return frozen.error();
  for (const ManifestConnection &connection : manifest.connections) {
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
Result<std::vector<ManifestConnection>> restored_connections(CheckpointBus &bus,
                                                             const CheckpointManifest &manifest)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return frozen.error();
  std::vector<ManifestConnection> connections = manifest.connections;
  for (ManifestConnection &connection : connections) {
    const FrozenConnection *now = find_frozen(frozen.value(), connection);
    if (!now)
      return Error{"", "after criu restore the bus holds no frozen connection " +
                           connection.unique_name + " (checkpoint " + connection.id + ")"};
    connection.id = now->id;
  }
  return connections;
}

struct RestoreTimes {
  Clock::duration wait{}, restore{}, thaw{}, total{};
};

void print_restore(const Output &output, const CheckpointManifest &manifest, const fs::path &dir,
                   const std::vector<ManifestConnection> &connections, const RestoreTimes &times)
{
  if (output.json) {
    std::vector<std::string> ids;
    for (const ManifestConnection &connection : connections)
      ids.push_back(connection.id);
    output.data << JsonObject()
                       .add("command", "restore")
                       .add("dir", dir.string())
                       .add("pid", manifest.pid)
                       .add("process_name", manifest.command)
                       .add_json("ids", json_string_array(ids))
                       .add("wait_ms", to_milliseconds(times.wait))
                       .add("restore_ms", to_milliseconds(times.restore))
                       .add("thaw_ms", to_milliseconds(times.thaw))
                       .add("total_ms", to_milliseconds(times.total))
                       .str()
                << "\n";
    return;
  }
  output.report << "restore of pid " << manifest.pid << " (" << manifest.command << ") from "
                << dir.string() << "\n"
                << "waited " << format_milliseconds(times.wait) << " for its pids to be free\n"
                << "restored by criu in " << format_milliseconds(times.restore) << "\n"
                << "thawed " << count_connections(connections.size()) << " in "
                << format_milliseconds(times.thaw) << (connections.empty() ? "\n" : ":\n")
                << connection_table(connections) << "done in "
                << format_milliseconds(times.total) << " (wait "
                << format_milliseconds(times.wait) << ", restore "
                << format_milliseconds(times.restore) << ", thaw "
                << format_milliseconds(times.thaw) << ")\n";
}

} // namespace

int run_restore(const Invocation &invocation, const Output &output)
{
  const auto started = Clock::now();
  const auto fail = [&](const Error &error) { return report_failure(output, "restore", error); };
  auto setup = check_root_and_criu("restore", "criu restore creates processes with given pids",
                                   invocation.criu_path, invocation.plugin_dir, invocation.bus,
                                   invocation.criu_timeout);
  if (!setup)
    return fail(setup.error());
  std::error_code error;
  const fs::path dir = fs::absolute(invocation.images_dir, error).lexically_normal();
  // its files say which processes root creates and what the plugin connects to
  if (auto trusted = check_trusted_directory(dir, false); !trusted)
    return fail(trusted.error());
  auto lock = DirectoryLock::take(dir, "another dbus-checkpoint restore is using it");
  if (!lock)
    return fail(lock.error());
  auto manifest = load_manifest(dir);
  if (!manifest)
    return fail(manifest.error());
  if (const auto &mark = manifest.value().restored)
    return fail(Error{"", dir.string() + " was restored already, at " +
                              format_local_time(mark->at_usec) + " (pid " +
                              std::to_string(manifest.value().pid) +
                              "): a checkpoint restores once; take a new one to restore again"});
  {
    auto bus = CheckpointBus::connect(invocation.bus);
    if (!bus)
      return fail(bus.error());
    if (auto allowed = check_bus_allows_restore(bus.value(), manifest.value(), dir); !allowed)
      return fail(allowed.error());
  }  // disconnected: a bus that starts unique names afresh may want ours back

  RestoreTimes times;
  auto waited = wait_for_free_pids(manifest.value());
  if (!waited)
    return fail(waited.error());
  times.wait = waited.value();
  auto restored = run_criu(setup.value(), "restore", dir, {"-d"});
  if (!restored)
    return fail(Error{"", restored.error().message + "\nthe images in " + dir.string() +
                              " are kept"});
  times.restore = restored.value();

  // Marked at once: from now on these images belong to a running process.
  manifest.value().restored = RestoreMark{realtime_usec(), to_milliseconds(times.restore)};
  auto marked = save_manifest(dir, manifest.value());

  auto bus = CheckpointBus::connect(invocation.bus);
  if (!bus)
    return fail(bus.error());
  auto connections = restored_connections(bus.value(), manifest.value());
  if (!connections)
    return fail(connections.error());
  const auto thaw_started = Clock::now();
  std::vector<std::string> failures = thaw_connections(bus.value(), connections.value());
  times.thaw = Clock::now() - thaw_started;
  times.total = Clock::now() - started;
  if (!failures.empty()) {
    Error thaw_error{"", "pid " + std::to_string(manifest.value().pid) +
                             " is restored but stays frozen on the bus:"};
    for (const std::string &failure : failures)
      thaw_error.message += "\ncannot thaw " + failure;
    return fail(thaw_error);
  }
  print_restore(output, manifest.value(), dir, connections.value(), times);
  if (!marked)
    output.report << "dbus-checkpoint: restore: warning: cannot mark " << dir.string()
                  << " restored: " << marked.error().message << "\n";
  return kExitSuccess;
}

} // namespace dbus_checkpoint::cli
