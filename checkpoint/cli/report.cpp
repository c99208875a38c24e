#include "cli/report.hpp"

#include "cli/json.hpp"

namespace dbus_checkpoint::cli {
namespace {

std::string join(const std::vector<std::string> &items, const char *separator)
{
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
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

std::string connection_json(const ListedConnection &listed, std::int64_t now_usec)
{
  const bus_client::FrozenConnection &c = listed.connection;
  return JsonObject()
      .add("id", c.id)
      .add("unique_name", c.unique_name)
      .add_json("names", json_string_array(c.names))
      .add("attached", c.attached)
      .add("since_usec", c.since_usec)
      .add("since", format_rfc3339(c.since_usec))
      .add("age_seconds", age(c.since_usec, now_usec).count())
      .add("pid", c.pid)
      .add("uid", c.uid)
      .add("queued_messages", c.queued_messages)
      .add("queued_bytes", c.queued_bytes)
      .add("dropped_signals", c.dropped_signals)
      .add_json("stopped", stopped_json(listed.stopped))
      .str();
}

} // namespace

int report_failure(const Output &output, const std::string &command,
                   const bus_client::Error &error)
{
  output.report << "dbus-checkpoint: " << command << ": " << error.describe() << "\n";
  if (output.json) {
    std::string error_json =
        JsonObject()
            .add_json("name", error.name.empty() ? "null" : json_string(error.name))
            .add("message", error.message)
            .str();
    output.data << JsonObject().add("command", command).add_json("error", error_json).str()
                << "\n";
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

std::string stopped_json(const StoppedTree &stopped)
{
  return JsonObject()
      .add("method", to_string(stopped.method))
      .add("owner", stopped.owner)
      .add_json("cgroup", stopped.method == StopMethod::CgroupFreezer
                              ? json_string(stopped.cgroup_dir.string())
                              : "null")
      .add_json("pids", json_array(pid_strings(stopped)))
      .str();
}

std::string stopped_json(const std::optional<StoppedTree> &stopped)
{
  return stopped ? stopped_json(*stopped) : "null";
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

std::string frozen_list_json(const std::vector<ListedConnection> &listed, std::int64_t now_usec)
{
  std::vector<std::string> entries;
  for (const ListedConnection &entry : listed)
    entries.push_back(connection_json(entry, now_usec));
  return JsonObject().add("command", "list").add_json("frozen", json_array(entries)).str();
}

} // namespace dbus_checkpoint::cli
