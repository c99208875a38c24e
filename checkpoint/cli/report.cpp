// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/report.hpp"

namespace dbus_checkpoint::cli {
namespace {

std::string join(const std::vector<std::string> &items, const char *separator)
{
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
}

std::vector<pid_t> pids_of(const StoppedTree &stopped)
{
  std::vector<pid_t> pids;
  for (const ProcessId &process : stopped.processes)
    pids.push_back(process.pid);
  return pids;
}

std::vector<std::string> pid_strings(const StoppedTree &stopped)
{
  std::vector<std::string> pids;
  for (const ProcessId &process : stopped.processes)
    pids.push_back(std::to_string(process.pid));
  return pids;
}

std::chrono::seconds age(std::int64_t since_usec, std::int64_t now_usec)
{
  return std::chrono::seconds((now_usec - since_usec) / 1'000'000);
}

std::string stopped_column(const std::optional<StoppedTree> &stopped)
{
  if (!stopped)
    return "-";
  const char *method = stopped->method == StopMethod::Signals ? "SIGSTOP" : "cgroup";
  return std::string(method) + " (" + std::to_string(stopped->processes.size()) + ")";
}

TableRow table_row(const ListedConnection &listed, std::int64_t now_usec)
{
  const bus_client::FrozenConnection &c = listed.connection;
  return {c.id,
          c.unique_name,
          c.names.empty() ? "-" : join(c.names, ","),
          c.attached ? "yes" : "no",
          format_local_time(c.since_usec) + " (" + format_age(age(c.since_usec, now_usec)) +
              " ago)",
          std::to_string(c.pid),
          std::to_string(c.uid),
          std::to_string(c.queued_messages) + " (" + format_bytes(c.queued_bytes) + ")",
          std::to_string(c.dropped_signals),
          stopped_column(listed.stopped)};
}

Json connection_json(const ListedConnection &listed, std::int64_t now_usec)
{
  const bus_client::FrozenConnection &c = listed.connection;
  return {{"id", c.id},
          {"unique_name", c.unique_name},
          {"names", c.names},
          {"attached", c.attached},
          {"since_usec", c.since_usec},
          {"since", format_rfc3339(c.since_usec)},
          {"age_seconds", age(c.since_usec, now_usec).count()},
          {"pid", c.pid},
          {"uid", c.uid},
          {"queued_messages", c.queued_messages},
          {"queued_bytes", c.queued_bytes},
          {"dropped_signals", c.dropped_signals},
          {"stopped", stopped_json(listed.stopped)}};
}

} // namespace

int report_failure(const Output &output, const std::string &command,
                   const base::Error &error)
{
  output.report << "dbus-checkpoint: " << command << ": " << error.describe() << "\n";
  if (output.json) {
    const Json error_json = {{"name", error.name.empty() ? Json() : Json(error.name)},
                             {"message", error.message}};
    output.data << json_text({{"command", command}, {"error", error_json}}) << "\n";
  }
  return kExitFailure;
}

std::string describe(const StoppedTree &stopped, Transition transition)
{
  std::string text = "pid " + std::to_string(stopped.owner) + " (" +
                     (stopped.processes.empty() ? "no process was running"
                                                : "processes " + join(pid_strings(stopped), ", ")) +
                     ")";
  if (stopped.method == StopMethod::Signals)
    return text + (transition == Transition::Stop ? " with SIGSTOP" : " with SIGCONT");
  return text + " with the cgroup freezer (" + stopped.cgroup_dir.string() + ")";
}

Json stopped_json(const StoppedTree &stopped)
{
  return {{"method", to_string(stopped.method)},
          {"owner", stopped.owner},
          {"cgroup", stopped.method == StopMethod::CgroupFreezer
                         ? Json(stopped.cgroup_dir.string())
                         : Json()},
          {"pids", pids_of(stopped)}};
}

Json stopped_json(const std::optional<StoppedTree> &stopped)
{
  return stopped ? stopped_json(*stopped) : Json();
}

std::string format_frozen_table(const std::vector<ListedConnection> &listed,
                                std::int64_t now_usec)
{
  if (listed.empty())
    return "No frozen connections.\n";
  std::vector<TableRow> rows;
  for (const ListedConnection &entry : listed)
    rows.push_back(table_row(entry, now_usec));
  return format_table({"ID", "UNIQUE NAME", "NAMES", "ATTACHED", "SINCE", "PID", "UID",
                       "QUEUED", "DROPPED", "STOPPED"},
                      rows);
}

Json frozen_list_json(const std::vector<ListedConnection> &listed, std::int64_t now_usec)
{
  Json entries = Json::array();
  for (const ListedConnection &entry : listed)
    entries.push_back(connection_json(entry, now_usec));
  return {{"command", "list"}, {"frozen", std::move(entries)}};
}

} // namespace dbus_checkpoint::cli
