// dbus-checkpoint checkpoint NAME|--pid PID -D DIR: freeze every bus
// connection of the process tree, criu dump it with our plugin, write
// dbus-checkpoint.json; on any failure thaw what it froze.
#include <unistd.h>

#include <algorithm>
#include <set>

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
using bus_client::Result;

// DIR made absolute and created (0700) if missing; refused if it holds a
// checkpoint already, or if root cannot trust it (check_trusted_directory).
Result<fs::path> prepare_images_dir(const std::string &images_dir)
{
  std::error_code error;
  fs::path dir = fs::absolute(images_dir, error).lexically_normal();
  if (error)
    return Error{"", "bad directory " + images_dir + ": " + error.message()};
  // root runs criu and our plugin in it: nobody else may write there
  if (auto trusted = check_trusted_directory(dir, true); !trusted)
    return trusted.error();
  if (fs::exists(manifest_path(dir), error))
    return Error{"", dir.string() + " holds a checkpoint already (" + kManifestFileName +
                         "); give an empty or new directory"};
  return dir;
}

// The process to dump: NAME's owner or --pid; with its descendants.
Result<std::vector<ProcessInfo>> tree_to_dump(CheckpointBus &bus, const Invocation &invocation)
{
  pid_t root = invocation.pid;
  if (!invocation.target.empty()) {
    auto owner = bus.connection_pid(invocation.target);
    if (!owner)
      return Error{owner.error().name,
                   "cannot find the process of " + invocation.target + ": " +
                       owner.error().message};
    root = static_cast<pid_t>(owner.value());
  }
  if (root <= 1)
    return Error{"", "refusing to checkpoint pid " + std::to_string(root)};
  auto tree = process_tree(root);
  if (!tree)
    return tree.error();
  for (const ProcessInfo &process : tree.value())
    if (process.id.pid == ::getpid())
      return Error{"", "pid " + std::to_string(root) + " is an ancestor of dbus-checkpoint itself"};
  if (::getsid(root) != root)
    return Error{"", "pid " + std::to_string(root) + " (" + process_name(root) +
                         ") does not lead its session: CRIU restores a process detached only "
                         "if it is a session leader (start the service with setsid)"};
  return tree;
}

// The connections whose process is in the tree: unique names from
// ListNames, each one's pid from GetConnectionUnixProcessID.
Result<std::vector<ManifestConnection>> connections_of(CheckpointBus &bus,
                                                       const std::vector<ProcessInfo> &tree)
{
  std::set<pid_t> pids;
  for (const ProcessInfo &process : tree)
    pids.insert(process.id.pid);
  auto names = bus.list_names();
  if (!names)
    return names.error();
  std::vector<ManifestConnection> connections;
  for (const std::string &name : names.value()) {
    if (!name.starts_with(':'))
      continue;
    auto pid = bus.connection_pid(name);  // fails if it left meanwhile
    if (pid && pids.contains(static_cast<pid_t>(pid.value())))
      connections.push_back({"", name, {}, static_cast<pid_t>(pid.value()), false});
  }
  return connections;
}

// What undoing the freeze did, appended to the error that made it needed.
Error thaw_after_failure(CheckpointBus &bus, const std::vector<ManifestConnection> &frozen,
                         pid_t root, Error error)
{
  std::vector<ManifestConnection> ours;
  std::copy_if(frozen.begin(), frozen.end(), std::back_inserter(ours),
               [](const ManifestConnection &c) { return !c.id.empty() && !c.frozen_before; });
  std::vector<std::string> failures = thaw_connections(bus, ours);
  if (!ours.empty() && failures.empty())
    error.message += "\n" + count_connections(ours.size()) + " thawed again";
  for (const std::string &failure : failures)
    error.message += "\ncannot thaw " + failure;
  const auto kept = std::count_if(frozen.begin(), frozen.end(),
                                  [](const ManifestConnection &c) { return c.frozen_before; });
  if (kept > 0)
    error.message += "\n" + count_connections(static_cast<std::size_t>(kept)) +
                     " frozen before this command stay frozen";
  auto process = read_process(root);
  error.message += "\npid " + std::to_string(root) +
                   (process && process->state != 'Z' ? " keeps running" : " is gone");
  return error;
}

// Freezes each connection (noting those frozen before), then fills in
// their well-known names from ListFrozen.  On failure, thaws what it froze.
Result<void> freeze_connections(CheckpointBus &bus, std::vector<ManifestConnection> &connections,
                                pid_t root)
{
  auto before = bus.list_frozen();
  if (!before)
    return before.error();
  std::set<std::string> frozen_before;
  for (const auto &frozen : before.value())
    frozen_before.insert(frozen.id);

  for (ManifestConnection &connection : connections) {
    auto id = bus.freeze(connection.unique_name);
    if (!id)
      return thaw_after_failure(bus, connections, root,
                                Error{id.error().name, "cannot freeze " + connection.unique_name +
                                                           ": " + id.error().message});
    connection.id = id.value();
    connection.frozen_before = frozen_before.contains(connection.id);
  }
  auto after = bus.list_frozen();
  if (!after)
    return thaw_after_failure(bus, connections, root, after.error());
  for (ManifestConnection &connection : connections)
    for (const auto &frozen : after.value())
      if (frozen.id == connection.id)
        connection.names = frozen.names;
  return {};
}

void print_checkpoint(const Output &output, const CheckpointManifest &manifest,
                      const fs::path &dir)
{
  if (output.json) {
    JsonObject json;
    json.add("command", "checkpoint").add("dir", dir.string());
    add_manifest_members(json, manifest);
    output.data << json.str() << "\n";
    return;
  }
  for (const ManifestConnection &connection : manifest.connections)
    output.data << connection.id << "\n";
  output.report << "checkpoint of pid " << manifest.pid << " (" << manifest.command << "), "
                << manifest.processes.size()
                << (manifest.processes.size() == 1 ? " process" : " processes") << ", into "
                << dir.string() << "\n"
                << "froze " << count_connections(manifest.connections.size()) << " in "
                << format_milliseconds(manifest.freeze_ms) << (manifest.connections.empty() ? "\n" : ":\n")
                << connection_table(manifest.connections) << "dumped by criu in "
                << format_milliseconds(manifest.dump_ms) << ": " << format_bytes(manifest.image_bytes)
                << " of images\n"
                << "done in " << format_milliseconds(manifest.total_ms)
                << "; the connections stay frozen on the bus, holding their names, until "
                   "dbus-checkpoint restore -D "
                << dir.string() << "\n";
}

} // namespace

int run_checkpoint(const Invocation &invocation, const Output &output)
{
  const auto started = Clock::now();
  const auto fail = [&](const Error &error) { return report_failure(output, "checkpoint", error); };
  auto setup = check_root_and_criu("checkpoint", "criu dump takes other processes' memory",
                                   invocation.criu_path, invocation.plugin_dir, invocation.bus,
                                   invocation.criu_timeout);
  if (!setup)
    return fail(setup.error());
  auto bus = CheckpointBus::connect(invocation.bus);
  if (!bus)
    return fail(bus.error());
  auto tree = tree_to_dump(bus.value(), invocation);
  if (!tree)
    return fail(tree.error());
  auto dir = prepare_images_dir(invocation.images_dir);
  if (!dir)
    return fail(dir.error());
  const pid_t root = tree.value().front().id.pid;

  CheckpointManifest manifest;
  manifest.pid = root;
  manifest.command = process_name(root);
  for (const ProcessInfo &process : tree.value())
    manifest.processes.push_back(process.id.pid);
  manifest.bus = bus_address_in_use(invocation.bus);
  manifest.criu = setup.value().executable;

  const auto freeze_started = Clock::now();
  auto connections = connections_of(bus.value(), tree.value());
  if (!connections)
    return fail(connections.error());
  manifest.connections = std::move(connections).value();
  if (auto frozen = freeze_connections(bus.value(), manifest.connections, root); !frozen)
    return fail(frozen.error());
  manifest.freeze_ms = to_milliseconds(Clock::now() - freeze_started);

  auto dumped = run_criu(setup.value(), "dump", dir.value(), {"-t", std::to_string(root)});
  if (!dumped)
    return fail(thaw_after_failure(bus.value(), manifest.connections, root, dumped.error()));
  manifest.dump_ms = to_milliseconds(dumped.value());
  manifest.image_bytes = directory_bytes(dir.value());
  manifest.created_usec = realtime_usec();
  manifest.total_ms = to_milliseconds(Clock::now() - started);
  if (auto saved = save_manifest(dir.value(), manifest); !saved)
    return fail(Error{"", "the images are in " + dir.value().string() + " but " +
                              saved.error().message +
                              "; the connections stay frozen (the process is dumped)"});
  print_checkpoint(output, manifest, dir.value());
  return kExitSuccess;
}

} // namespace dbus_checkpoint::cli
