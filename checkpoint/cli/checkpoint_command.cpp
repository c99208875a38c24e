// SPDX-License-Identifier: GPL-2.0-or-later
// dbus-checkpoint checkpoint NAME|--pid PID -D DIR: freeze every bus
// connection of the process tree, criu dump it with our plugin, write
// dbus-checkpoint.json; on any failure thaw what it froze.
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "base/files.hpp"
#include "bus-client/process_buses.hpp"

#include "cli/commands.hpp"
#include "cli/criu_steps.hpp"
#include "cli/dump_checks.hpp"
#include "cli/files.hpp"
#include "cli/json.hpp"
#include "cli/lazy_dump.hpp"
#include "cli/manifest.hpp"
#include "cli/process_tree.hpp"
#include "cli/systemd_unit.hpp"
#include "cli/unit_sandbox.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::CheckpointBus;
using base::Error;
using base::Result;

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

// The service unit whose main process the tree's root is, as
// service_unit_of answered (asked once: the sandbox check and the
// takeover both need it), and its note.
struct RootUnit {
  Result<std::optional<std::string>> unit = std::optional<std::string>();
  std::string note;
};

// The process to dump: NAME's owner or --pid; with its descendants.
// `unit_out`: the root's service unit.  `sandbox_out`: the root is a
// sandboxed unit's main process, which criu dumps from inside its
// namespaces (unit_sandbox.hpp).
Result<std::vector<ProcessInfo>> tree_to_dump(CheckpointBus &bus, const Invocation &invocation,
                                              const CriuSetup &setup, RootUnit &unit_out,
                                              std::optional<UnitSandbox> &sandbox_out)
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
  unit_out.unit = service_unit_of(root, unit_out.note);
  if (unit_out.unit && unit_out.unit.value()) {
    auto sandbox = unit_sandbox_of(tree.value());
    if (!sandbox)
      return Error{"", sandbox.error().message + "; nothing was frozen"};
    sandbox_out = sandbox.value();
  }
  if (sandbox_out) {
    std::error_code error;
    for (const auto &[path, what] : std::vector<std::pair<fs::path, std::string>>{
             {setup.executable, "criu"},
             {setup.plugin_dir, "the CRIU plugin directory"},
             {fs::read_symlink("/proc/self/exe", error), "dbus-checkpoint"}})
      if (auto visible = check_visible_in_sandbox(*sandbox_out, path, what); !visible)
        return Error{"", visible.error().message + "; nothing was frozen"};
  }
  if (auto dumpable = check_criu_can_dump(tree.value(), criu_abilities(setup.patch_features),
                                          /*from_inside=*/sandbox_out.has_value());
      !dumpable)
    return Error{"", dumpable.error().message + "; nothing was frozen"};
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
      connections.push_back({"", name, {}, static_cast<pid_t>(pid.value()), false, ""});
  }
  return connections;
}

// A bus the tree's connections are on: the command's own (address empty)
// or one named in the environment of a process of the tree.
struct TreeBus {
  std::string address;  // empty: the command's own bus (--system/--address)
  CheckpointBus bus;
  std::vector<ManifestConnection> connections;
};

// What undoing the freeze did, appended to the error that made it needed.
Error thaw_after_failure(std::vector<TreeBus> &buses, pid_t root, Error error)
{
  std::size_t thawed = 0, kept = 0;
  for (TreeBus &tree_bus : buses) {
    std::vector<ManifestConnection> ours;
    std::copy_if(tree_bus.connections.begin(), tree_bus.connections.end(),
                 std::back_inserter(ours),
                 [](const ManifestConnection &c) { return !c.id.empty() && !c.frozen_before; });
    std::vector<std::string> failures = thaw_connections(tree_bus.bus, ours);
    thawed += ours.size() - failures.size();
    for (const std::string &failure : failures)
      error.message += "\ncannot thaw " + failure;
    kept += static_cast<std::size_t>(
        std::count_if(tree_bus.connections.begin(), tree_bus.connections.end(),
                      [](const ManifestConnection &c) { return c.frozen_before; }));
  }
  if (thawed > 0)
    error.message += "\n" + count_connections(thawed) + " thawed again";
  if (kept > 0)
    error.message += "\n" + count_connections(kept) + " frozen before this command stay frozen";
  auto process = read_process(root);
  error.message += "\npid " + std::to_string(root) +
                   (process && process->state != 'Z' ? " keeps running" : " is gone");
  return error;
}

// Freezes each connection (noting those frozen before), then fills in
// their well-known names from ListFrozen.  On failure the caller thaws
// those with an id.
Result<void> freeze_connections(CheckpointBus &bus, std::vector<ManifestConnection> &connections)
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
      return Error{id.error().name,
                   "cannot freeze " + connection.unique_name + ": " + id.error().message};
    connection.id = id.value();
    connection.frozen_before = frozen_before.contains(connection.id);
  }
  auto after = bus.list_frozen();
  if (!after)
    return after.error();
  for (ManifestConnection &connection : connections)
    for (const auto &frozen : after.value())
      if (frozen.id == connection.id)
        connection.names = frozen.names;
  return {};
}

// The other buses the tree's processes were started with
// (DBUS_SESSION_BUS_ADDRESS, DBUS_SYSTEM_BUS_ADDRESS), each once, the
// command's own bus left out.  A bus that does not answer is skipped with
// a note: nothing of the tree can be connected to it.
std::vector<TreeBus> other_buses(const std::vector<ProcessInfo> &tree,
                                 const std::string &own_address, std::vector<std::string> &notes)
{
  std::vector<std::string> addresses;
  for (const ProcessInfo &process : tree) {
    auto buses = bus_client::process_bus_addresses(process.id.pid);
    if (!buses)
      continue;  // gone meanwhile
    for (const std::string &address : {buses.value().session, buses.value().system}) {
      if (address.empty() || bus_client::same_bus(address, own_address))
        continue;
      if (std::none_of(addresses.begin(), addresses.end(),
                       [&](const std::string &a) { return bus_client::same_bus(a, address); }))
        addresses.push_back(address);
    }
  }
  std::vector<TreeBus> buses;
  for (const std::string &address : addresses) {
    auto bus = CheckpointBus::connect(bus_client::BusAddress{address});
    if (bus)
      buses.push_back(TreeBus{address, std::move(bus).value(), {}});
    else
      notes.push_back("skipped the bus at " + address + " (named in the environment of the tree): " +
                      bus.error().describe());
  }
  return buses;
}

// Whether a process of the tree holds a file lock (weston locks its
// socket's .lock file): then CRIU needs --file-locks.
bool holds_file_locks(const std::vector<ProcessInfo> &tree)
{
  std::set<pid_t> pids;
  for (const ProcessInfo &process : tree)
    pids.insert(process.id.pid);
  auto locks = read_whole_file("/proc/locks");
  if (!locks)
    return false;
  // "1: POSIX  ADVISORY  WRITE 1234 00:2a:5678 0 EOF": the pid is field 5
  // ("1: -> FLOCK ..." for a blocked waiter has one more).
  std::istringstream lines(locks.value());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;)
      words.push_back(word);
    const std::size_t pid_field = words.size() > 1 && words[1] == "->" ? 5 : 4;
    if (words.size() > pid_field &&
        words[pid_field].find_first_not_of("0123456789") == std::string::npos &&
        pids.contains(static_cast<pid_t>(std::stol(words[pid_field]))))
      return true;
  }
  return false;
}

// CRIU options the tree needs, on dump and on restore.
std::vector<std::string> criu_options_for(const std::vector<ProcessInfo> &tree)
{
  std::vector<std::string> options;
  // A service started by a shell, an init script or the bus's activation
  // helper shares its starter's session: CRIU dumps it only as a shell job,
  // and restore gives it a session of its own (see run_restore).
  const pid_t root = tree.front().id.pid;
  if (::getsid(root) != root)
    options.push_back(kCriuShellJob);
  if (holds_file_locks(tree))
    options.push_back(kCriuFileLocks);
  return options;
}

// Why each option: for the report.
std::string criu_options_reason(const CheckpointManifest &manifest)
{
  std::string out;
  for (const std::string &option : manifest.criu_options)
    out += (out.empty() ? "" : "; ") + option +
           (option == kCriuShellJob
                ? ": pid " + std::to_string(manifest.pid) + " does not lead its session"
                : ": a process of the tree holds file locks");
  return out;
}

// " from inside the unit's sandbox (its net, mnt namespaces; …)"
std::string sandbox_note(const ManifestSandbox &sandbox)
{
  std::string kinds;
  for (const std::string &kind : sandbox.namespaces)
    kinds += (kinds.empty() ? "" : ", ") + kind;
  return " from inside the unit's sandbox (its " + kinds + " namespaces" +
         (sandbox.outside_files.empty()
              ? std::string()
              : "; " + std::to_string(sandbox.outside_files.size()) +
                    " /dev/null from outside it, given back at restore") +
         ")";
}

void print_checkpoint(const Output &output, const CheckpointManifest &manifest,
                      const fs::path &dir)
{
  if (output.json) {
    Json json = {{"command", "checkpoint"}, {"dir", dir.string()}};
    add_manifest_members(json, manifest);
    output.data << json_text(json) << "\n";
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
                << connection_table(manifest.connections) << "dumped by criu"
                << (manifest.sandbox ? sandbox_note(*manifest.sandbox) : std::string())
                << (manifest.criu_options.empty()
                        ? std::string()
                        : " (with " + criu_options_reason(manifest) + ")")
                << " in "
                << format_milliseconds(manifest.dump_ms) << ": " << format_bytes(manifest.image_bytes)
                << " of images\n"
                << "done in " << format_milliseconds(manifest.total_ms)
                << "; the connections stay frozen on the bus, holding their names, until "
                   "dbus-checkpoint restore -D "
                << dir.string() << "\n";
}

// The restore a unit's start runs: this program with the options of this
// checkpoint (bus, criu, plugin, time-out).
std::vector<std::string> restore_argv_for(const Invocation &invocation, const fs::path &dir)
{
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  std::vector<std::string> argv{error ? std::string("dbus-checkpoint") : self.string()};
  if (!invocation.bus.address.empty())
    argv.insert(argv.end(), {"--address", invocation.bus.address});
  argv.insert(argv.end(), {"--criu", fs::absolute(invocation.criu_path, error).string(), "--plugin-dir",
                           fs::absolute(invocation.plugin_dir, error).string(), "--criu-timeout",
                           std::to_string(invocation.criu_timeout.count()), "restore", "-D",
                           dir.string()});
  return argv;
}

// nullopt: root is no service's main process (or systemd does not run).
Result<std::optional<UnitTakeover>> take_over_service_unit(const Invocation &invocation, pid_t root,
                                                           const fs::path &dir,
                                                           CheckpointManifest &manifest,
                                                           bool in_sandbox, const RootUnit &root_unit)
{
  const Result<std::optional<std::string>> &unit = root_unit.unit;
  if (!unit)
    return unit.error();
  if (!unit.value())
    return std::optional<UnitTakeover>();
  std::vector<std::string> ids;
  for (const ManifestConnection &connection : manifest.connections)
    ids.push_back(connection.id);
  auto taken =
      take_over_unit(*unit.value(), dir, ids, restore_argv_for(invocation, dir), in_sandbox);
  if (!taken)
    return Error{"", "pid " + std::to_string(root) + " is the main process of " + *unit.value() +
                         ", whose start must become the restore before the dump stops it: " +
                         taken.error().message};
  manifest.systemd_unit = ManifestUnit{taken.value().unit, taken.value().drop_in.string()};
  return std::optional<UnitTakeover>(taken.value());
}

// A checkpoint restored after a reboot needs its records restored at the
// bus's start in the next boot (its names held meanwhile): asked for with
// --keep-across-reboot, implied by a unit's start that outlives a reboot
// (its drop-in is not under /run).  Otherwise the bus sets them aside.
Result<void> keep_across_reboot_if_asked(const Invocation &invocation,
                                         const std::optional<UnitTakeover> &takeover,
                                         std::vector<TreeBus> &buses, const Output &output)
{
  const bool unit_outlives_reboot =
      takeover && !takeover->drop_in.string().starts_with("/run/");
  if (!invocation.keep_across_reboot && !unit_outlives_reboot)
    return {};
  std::size_t kept = 0;
  for (TreeBus &tree_bus : buses)
    for (const ManifestConnection &connection : tree_bus.connections) {
      auto done = tree_bus.bus.keep_across_reboot(connection.id, true);
      if (done) {
        ++kept;
      } else if (done.error().name == "org.freedesktop.DBus.Error.NotSupported") {
        // a bus without records: restore Imports the images' record
        output.report << "note: " << done.error().message << "\n";
      } else {
        return Error{done.error().name, "cannot keep " + connection.unique_name +
                                            " across a reboot: " + done.error().message};
      }
    }
  output.report << "kept across a reboot: " << count_connections(kept)
                << " (the bus restores them, frozen, when it starts)\n";
  return {};
}

void print_takeover(const Output &output, const UnitTakeover &takeover,
                    const CheckpointManifest &manifest, const fs::path &dir)
{
  // systemd notices the dump's SIGKILL a moment later: its view settles.
  std::string state = unit_property(takeover.unit, "ActiveState");
  for (int tries = 0; tries < 50 && (state == "active" || state == "deactivating"); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = unit_property(takeover.unit, "ActiveState");
  }
  const std::string result = unit_property(takeover.unit, "Result");
  output.report << "systemd: " << takeover.unit << " is " << (state.empty() ? "?" : state)
                << " (result " << (result.empty() ? "?" : result)
                << ") after the dump; its start restores this checkpoint now (drop-in "
                << takeover.drop_in.string() << ", "
                << (takeover.drop_in.string().starts_with("/run/") ? "until reboot" : "also after a reboot")
                << "):\n  dbus-checkpoint restore -D " << dir.string() << " or systemctl start "
                << takeover.unit << " restores it;";
  for (const ManifestConnection &connection : manifest.connections)
    output.report << " dbus-checkpoint discard " << connection.id;
  output.report << " gives the unit its own start back\n";
}

// migrate's end, once its connections are frozen: criu dump --lazy-pages
// serves the pages; the manifest (with the page server) tells the
// destination's receive to restore; once every page is fetched the
// connections here are discarded.  On failure the process resumes here
// and its connections are thawed.
int migrate_frozen_tree(const Invocation &invocation, const Output &output, const CriuSetup &setup,
                        const fs::path &dir, const std::vector<std::string> &dump_arguments,
                        std::vector<TreeBus> &buses, CheckpointManifest &manifest,
                        Clock::time_point started)
{
  const auto fail = [&](Error error) {
    return report_failure(output, "migrate", thaw_after_failure(buses, manifest.pid, std::move(error)));
  };
  auto serving = dump_serving_pages(setup, dir, dump_arguments, invocation.page_server_address,
                                    invocation.page_server_port);
  if (!serving)
    return fail(serving.error());
  manifest.dump_ms = to_milliseconds(serving.value().until_serving);
  manifest.page_server =
      ManifestPageServer{invocation.page_server_address, invocation.page_server_port};
  manifest.image_bytes = base::image_bytes(dir);
  manifest.created_usec = realtime_usec();
  manifest.total_ms = to_milliseconds(Clock::now() - started);
  if (auto saved = save_manifest(dir, manifest); !saved) {
    serving.value().criu.kill_and_reap();  // the process resumes
    return fail(Error{"", saved.error().message + "; criu was stopped"});
  }
  const std::string server =
      invocation.page_server_address + ":" + std::to_string(invocation.page_server_port);
  if (!output.json)
    output.report << "migrate: froze " << count_connections(manifest.connections.size()) << " in "
                  << format_milliseconds(manifest.freeze_ms) << ":\n"
                  << connection_table(manifest.connections) << "criu dump wrote "
                  << format_bytes(manifest.image_bytes) << " of images into " << dir.string()
                  << " in " << format_milliseconds(manifest.dump_ms)
                  << " and serves the memory pages on " << server
                  << "; dbus-checkpoint receive -D DIR restores the service on the destination now\n";

  auto fetched = wait_until_pages_fetched(serving.value(), setup, dir);
  if (!fetched) {
    Error error = fetched.error();
    auto seen = load_manifest(dir);
    std::error_code ignored;
    fs::remove(manifest_path(dir), ignored);  // a receive yet to come restores nothing
    error.message += "\npid " + std::to_string(manifest.pid) +
                     " resumes here (criu dump ends it only once every page is fetched); " +
                     manifest_path(dir).string() + " was removed";
    if (seen && seen.value().restored)
      error.message += "\nthe destination had restored it already: its copy lacks the pages "
                       "not fetched and must not run on; stop it there";
    return fail(error);
  }
  std::vector<std::string> failures;
  for (TreeBus &tree_bus : buses)
    for (std::string &failure : for_each_connection(tree_bus.connections, [&](const std::string &id) {
           return tree_bus.bus.discard(id);
         }))
      failures.push_back(std::move(failure));
  const double fetched_ms = to_milliseconds(fetched.value());
  if (output.json) {
    Json json = {{"command", "migrate"}, {"dir", dir.string()}, {"pages_fetched_ms",
                 json_milliseconds(fetched_ms)}, {"discard_failures", failures}};
    add_manifest_members(json, manifest);
    output.data << json_text(json) << "\n";
  } else {
    for (const ManifestConnection &connection : manifest.connections)
      output.data << connection.id << "\n";
    output.report << "migrate: the destination fetched every page " << format_milliseconds(fetched_ms)
                  << " after the dump started; pid " << manifest.pid << " ended here; "
                  << count_connections(manifest.connections.size() - failures.size())
                  << " discarded on this bus (their names are released here)\n";
  }
  for (const std::string &failure : failures)
    output.report << "dbus-checkpoint: migrate: cannot discard " << failure << "\n";
  return failures.empty() ? kExitSuccess : kExitFailure;
}

// checkpoint and migrate: up to the dump, the same steps.
int dump_tree(const Invocation &invocation, const Output &output, bool migrating)
{
  const auto started = Clock::now();
  const char *command = migrating ? "migrate" : "checkpoint";
  const auto fail = [&](const Error &error) { return report_failure(output, command, error); };
  auto setup = check_root_and_criu(command, "criu dump takes other processes' memory",
                                   invocation.criu_path, invocation.plugin_dir, invocation.bus,
                                   invocation.criu_timeout);
  if (!setup)
    return fail(setup.error());
  auto bus = CheckpointBus::connect(invocation.bus);
  if (!bus)
    return fail(bus.error());
  RootUnit root_unit;
  std::optional<UnitSandbox> sandbox;
  auto tree = tree_to_dump(bus.value(), invocation, setup.value(), root_unit, sandbox);
  if (!tree)
    return fail(tree.error());
  if (migrating && root_unit.unit && root_unit.unit.value())
    return fail(Error{"", "pid " + std::to_string(tree.value().front().id.pid) +
                              " is the main process of " + *root_unit.unit.value() +
                              ", which systemd would start again here: migrate moves processes "
                              "no service manager restarts; nothing was frozen"});
  auto dir = prepare_images_dir(invocation.images_dir);
  if (!dir)
    return fail(dir.error());
  if (sandbox)
    if (auto visible = check_visible_in_sandbox(*sandbox, dir.value(), "the images directory");
        !visible)
      return fail(Error{"", visible.error().message + "; nothing was frozen"});
  const pid_t root = tree.value().front().id.pid;

  // criu's kernel probe (≈ 40 ms without its cache) paid before the
  // freeze, not while callers get NameFrozen
  if (migrating)
    prepare_kdat_cache(setup.value());

  CheckpointManifest manifest;
  manifest.pid = root;
  manifest.command = process_name(root);
  for (const ProcessInfo &process : tree.value())
    manifest.processes.push_back(process.id.pid);
  manifest.bus = bus_address_in_use(invocation.bus);
  manifest.criu = setup.value().executable;

  const auto freeze_started = Clock::now();
  std::vector<std::string> notes;
  std::vector<TreeBus> buses;
  buses.push_back(TreeBus{"", std::move(bus).value(), {}});
  for (TreeBus &other : other_buses(tree.value(), manifest.bus, notes))
    buses.push_back(std::move(other));
  for (TreeBus &tree_bus : buses) {
    auto connections = connections_of(tree_bus.bus, tree.value());
    if (!connections)
      return fail(thaw_after_failure(buses, root, connections.error()));
    tree_bus.connections = std::move(connections).value();
    auto frozen = freeze_connections(tree_bus.bus, tree_bus.connections);
    if (!frozen)
      return fail(thaw_after_failure(buses, root, frozen.error()));
  }
  for (TreeBus &tree_bus : buses)
    for (ManifestConnection connection : tree_bus.connections) {
      connection.bus = tree_bus.address;
      manifest.connections.push_back(std::move(connection));
    }
  manifest.freeze_ms = to_milliseconds(Clock::now() - freeze_started);

  // The main process of a systemd service: the unit's start becomes the
  // restore before the dump stops it (systemd_unit.hpp).
  auto takeover = migrating ? Result<std::optional<UnitTakeover>>(std::optional<UnitTakeover>())
                            : take_over_service_unit(invocation, root, dir.value(), manifest,
                                                     sandbox.has_value(), root_unit);
  if (!root_unit.note.empty())
    notes.push_back(root_unit.note);
  if (!takeover)
    return fail(thaw_after_failure(buses, root, takeover.error()));
  if (auto kept = keep_across_reboot_if_asked(invocation, takeover.value(), buses, output); !kept) {
    Error error = kept.error();
    if (takeover.value())
      if (auto given_back = give_back_unit(*takeover.value(), true); !given_back)
        error.message += "\n" + given_back.error().message;
    return fail(thaw_after_failure(buses, root, error));
  }

  manifest.criu_options = criu_options_for(tree.value());
  std::vector<std::string> dump_arguments{"-t", std::to_string(root)};
  dump_arguments.insert(dump_arguments.end(), manifest.criu_options.begin(),
                        manifest.criu_options.end());
  if (sandbox) {
    prepare_kdat_cache(setup.value());
    manifest.sandbox = sandbox->seen;
    for (const std::string &option : sandbox_dump_options(*sandbox))
      dump_arguments.push_back(option);
  }
  if (migrating)
    return migrate_frozen_tree(invocation, output, setup.value(), dir.value(), dump_arguments,
                               buses, manifest, started);
  auto dumped = run_criu(setup.value(), "dump", dir.value(), dump_arguments,
                         /*in_new_session=*/false, sandbox ? root : 0);
  if (!dumped) {
    Error error = dumped.error();
    for (const std::string &note : notes)
      error.message += "\n" + note;
    if (takeover.value())
      if (auto given_back = give_back_unit(*takeover.value(), true); !given_back)
        error.message += "\n" + given_back.error().message;
    return fail(thaw_after_failure(buses, root, error));
  }
  manifest.dump_ms = to_milliseconds(dumped.value());
  manifest.image_bytes = base::image_bytes(dir.value());
  manifest.created_usec = realtime_usec();
  manifest.total_ms = to_milliseconds(Clock::now() - started);
  if (auto saved = save_manifest(dir.value(), manifest); !saved)
    return fail(Error{"", "the images are in " + dir.value().string() + " but " +
                              saved.error().message +
                              "; the connections stay frozen (the process is dumped)"});
  print_checkpoint(output, manifest, dir.value());
  if (takeover.value() && !output.json)
    print_takeover(output, *takeover.value(), manifest, dir.value());
  for (const std::string &note : notes)
    output.report << "note: " << note << "\n";
  return kExitSuccess;
}

} // namespace

int run_checkpoint(const Invocation &invocation, const Output &output)
{
  return dump_tree(invocation, output, /*migrating=*/false);
}

int run_migrate(const Invocation &invocation, const Output &output)
{
  return dump_tree(invocation, output, /*migrating=*/true);
}

} // namespace dbus_checkpoint::cli
