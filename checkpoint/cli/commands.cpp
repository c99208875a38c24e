// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/commands.hpp"

#include "cli/files.hpp"
#include "cli/json.hpp"
#include "cli/stop_record.hpp"
#include "cli/systemd_unit.hpp"

namespace dbus_checkpoint::cli {
namespace {

using bus_client::CheckpointBus;
using base::Error;
using base::Result;

// Runs `step` and measures it.
template <typename Step>
auto timed(Clock::duration &elapsed, Step step)
{
  auto start = Clock::now();
  auto result = step();
  elapsed = Clock::now() - start;
  return result;
}

// True if the connection `id` was frozen before `start_usec` (someone
// else's freeze, which a failed --in-place must not undo).
bool frozen_before(CheckpointBus &bus, const std::string &id, std::int64_t start_usec)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return false;
  for (const auto &connection : frozen.value())
    if (connection.id == id)
      return connection.since_usec < start_usec;
  return false;
}

struct InPlaceStop {
  StoppedTree stopped;
  bool already = false;  // an earlier freeze --in-place had stopped it
};

// freeze --in-place's second half: the owner's pid, its tree stopped, the
// record of it saved.  On failure nothing stays stopped.
Result<InPlaceStop> stop_in_place(CheckpointBus &bus, const std::string &name,
                                  const std::string &id)
{
  auto earlier = load_stop_record(stop_record_dir(), id);
  if (!earlier)
    return earlier.error();
  if (earlier.value())
    return InPlaceStop{*earlier.value(), true};
  auto pid = bus.connection_pid(name);
  if (!pid)
    return pid.error();
  auto stopped = stop_process_tree(static_cast<pid_t>(pid.value()));
  if (!stopped)
    return stopped.error();
  if (auto saved = save_stop_record(stop_record_dir(), id, stopped.value()); !saved) {
    (void)resume_process_tree(stopped.value());
    return saved.error();
  }
  return InPlaceStop{stopped.value(), false};
}

// What freeze --in-place did when a step failed after the bus froze.
Error undo_freeze(CheckpointBus &bus, const std::string &id, std::int64_t start_usec,
                  Error error)
{
  if (frozen_before(bus, id, start_usec)) {
    error.message += " (the connection was frozen before and stays frozen)";
    return error;
  }
  auto thawed = bus.thaw(id);
  error.message += thawed ? " (the connection was thawed again)"
                          : " (and thawing it again failed: " + thawed.error().describe() + ")";
  return error;
}

// thaw and discard: resume what freeze --in-place stopped, forget it.
Result<std::optional<StoppedTree>> resume_in_place(const std::string &id,
                                                   Clock::duration &elapsed)
{
  auto start = Clock::now();
  auto record = load_stop_record(stop_record_dir(), id);
  if (!record || !record.value())
    return record;
  if (auto resumed = resume_process_tree(*record.value()); !resumed)
    return resumed.error();
  remove_stop_record(stop_record_dir(), id);
  elapsed = Clock::now() - start;
  return record;
}

void report_resumed(const Output &output, const std::optional<StoppedTree> &resumed,
                    Clock::duration elapsed)
{
  if (resumed && !output.json)
    output.report << "resumed " << describe(*resumed, Transition::Resume) << " in "
                  << format_milliseconds(elapsed) << "\n";
}

// thaw's and discard's --json output.
void print_unfreeze_json(const Output &output, const char *command, const std::string &id,
                         Clock::duration bus_time, const std::optional<StoppedTree> &resumed,
                         Clock::duration resume_time)
{
  output.data << json_text({{"command", command},
                             {"id", id},
                             {"bus_ms", json_milliseconds(to_milliseconds(bus_time))},
                             {"resumed", stopped_json(resumed)},
                             {"resume_ms", json_milliseconds(to_milliseconds(resume_time))}})
              << "\n";
}

} // namespace

int run_list(CheckpointBus &bus, const Output &output)
{
  auto frozen = bus.list_frozen();
  if (!frozen)
    return report_failure(output, "list", frozen.error());
  std::vector<ListedConnection> listed;
  for (auto &connection : frozen.value()) {
    auto stopped = load_stop_record(stop_record_dir(), connection.id);
    listed.push_back({std::move(connection), stopped ? stopped.value() : std::nullopt});
  }
  const std::int64_t now = realtime_usec();
  output.data << (output.json ? json_text(frozen_list_json(listed, now)) + "\n"
                              : format_frozen_table(listed, now));
  return kExitSuccess;
}

int run_freeze(CheckpointBus &bus, const Invocation &invocation, const Output &output)
{
  const std::string &name = invocation.target;
  const std::int64_t start_usec = realtime_usec();
  Clock::duration freeze_time{};
  auto id = timed(freeze_time, [&] { return bus.freeze(name); });
  if (!id)
    return report_failure(output, "freeze", id.error());

  Json json = {{"command", "freeze"},
               {"name", name},
               {"id", id.value()},
               {"bus_ms", json_milliseconds(to_milliseconds(freeze_time))}};
  if (!output.json)
    output.report << "froze " << name << " as checkpoint " << id.value() << " (bus Freeze "
                  << format_milliseconds(freeze_time) << ")\n";

  if (invocation.in_place) {
    Clock::duration stop_time{};
    auto stop = timed(stop_time, [&] { return stop_in_place(bus, name, id.value()); });
    if (!stop)
      return report_failure(output, "freeze",
                            undo_freeze(bus, id.value(), start_usec, stop.error()));
    json["stopped"] = stopped_json(stop.value().stopped);
    json["stop_ms"] = json_milliseconds(to_milliseconds(stop_time));
    json["already_stopped"] = stop.value().already;
    if (!output.json && stop.value().already)
      output.report << "already stopped in place: "
                  << describe(stop.value().stopped, Transition::Stop) << "\n";
    else if (!output.json)
      output.report << "stopped " << describe(stop.value().stopped, Transition::Stop) << " in "
                    << format_milliseconds(stop_time) << "\n";
  }
  output.data << (output.json ? json_text(json) : id.value()) << "\n";
  return kExitSuccess;
}

// Resume the processes first, then Thaw: the bus delivers the queued
// messages at Thaw, and they should find their receiver running.
int run_thaw(CheckpointBus &bus, const Invocation &invocation, const Output &output)
{
  const std::string &id = invocation.target;
  Clock::duration resume_time{};
  auto resumed = resume_in_place(id, resume_time);
  if (!resumed)
    return report_failure(output, "thaw", resumed.error());
  report_resumed(output, resumed.value(), resume_time);

  Clock::duration thaw_time{};
  auto thawed = timed(thaw_time, [&] { return bus.thaw(id); });
  if (!thawed)
    return report_failure(output, "thaw", thawed.error());
  if (output.json)
    print_unfreeze_json(output, "thaw", id, thaw_time, resumed.value(), resume_time);
  else
    output.report << "thawed checkpoint " << id << " (bus Thaw " << format_milliseconds(thaw_time)
                  << ")\n";
  return kExitSuccess;
}

// Discard first, then resume: the processes wake up to a closed connection,
// not to the messages that were queued for it.
int run_discard(CheckpointBus &bus, const Invocation &invocation, const Output &output)
{
  const std::string &id = invocation.target;
  Clock::duration discard_time{};
  auto discarded = timed(discard_time, [&] { return bus.discard(id); });
  if (!discarded)
    return report_failure(output, "discard", discarded.error());
  if (!output.json)
    output.report << "discarded checkpoint " << id << ": its names are released (bus Discard "
                  << format_milliseconds(discard_time) << ")\n";

  Clock::duration resume_time{};
  auto resumed = resume_in_place(id, resume_time);
  if (!resumed)
    return report_failure(output, "discard", resumed.error());
  report_resumed(output, resumed.value(), resume_time);
  // A systemd service whose start was this checkpoint's restore gets its
  // own start back.
  for (const UnitTakeover &takeover : takeovers_naming(id)) {
    auto given_back = give_back_unit(takeover, true);
    if (!given_back)
      return report_failure(output, "discard", given_back.error());
    (void)systemctl({"reset-failed", takeover.unit});
    if (!output.json)
      output.report << "systemd: " << takeover.unit << " has its own start back (removed "
                    << takeover.drop_in.string() << "); systemctl start " << takeover.unit
                    << " starts it afresh\n";
  }
  if (output.json)
    print_unfreeze_json(output, "discard", id, discard_time, resumed.value(), resume_time);
  return kExitSuccess;
}

int run_export(CheckpointBus &bus, const Invocation &invocation, const Output &output)
{
  const std::string &id = invocation.target;
  const std::string &path = invocation.output_path;
  Clock::duration export_time{}, write_time{};
  auto record = timed(export_time, [&] { return bus.export_record(id); });
  if (!record)
    return report_failure(output, "export", record.error());
  // Mode 0600: the record holds the connection's messages.
  auto written = timed(write_time, [&] {
    const auto &bytes = record.value();
    return replace_file(path, std::string_view(reinterpret_cast<const char *>(bytes.data()),
                                               bytes.size()), 0600);
  });
  if (!written)
    return report_failure(output, "export", written.error());
  const std::size_t n_bytes = record.value().size();
  if (output.json)
    output.data << json_text({{"command", "export"},
                               {"id", id},
                               {"file", path},
                               {"bytes", n_bytes},
                               {"bus_ms", json_milliseconds(to_milliseconds(export_time))},
                               {"write_ms", json_milliseconds(to_milliseconds(write_time))}})
                << "\n";
  else
    output.report << "exported checkpoint " << id << ": " << n_bytes << " bytes written to "
                  << path << " (bus Export " << format_milliseconds(export_time) << ", write "
                  << format_milliseconds(write_time) << ")\n";
  return kExitSuccess;
}

int run_subcommand(const Invocation &invocation, const Output &output)
{
  const Subcommand subcommand = invocation.subcommand.value();
  if (subcommand == Subcommand::Checkpoint)
    return run_checkpoint(invocation, output);
  if (subcommand == Subcommand::Restore)
    return run_restore(invocation, output);
  if (subcommand == Subcommand::Migrate)
    return run_migrate(invocation, output);
  if (subcommand == Subcommand::Receive)
    return run_receive(invocation, output);
  auto bus = CheckpointBus::connect(invocation.bus);
  if (!bus)
    return report_failure(output, to_string(subcommand), bus.error());
  switch (subcommand) {
  case Subcommand::Checkpoint:
  case Subcommand::Restore:
  case Subcommand::Migrate:
  case Subcommand::Receive: break;  // above
  case Subcommand::List: return run_list(bus.value(), output);
  case Subcommand::Freeze: return run_freeze(bus.value(), invocation, output);
  case Subcommand::Thaw: return run_thaw(bus.value(), invocation, output);
  case Subcommand::Discard: return run_discard(bus.value(), invocation, output);
  case Subcommand::Export: return run_export(bus.value(), invocation, output);
  }
  return kExitFailure;
}

} // namespace dbus_checkpoint::cli
