#include "cli/stop_record.hpp"

#include "cli/files.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::Error;
using bus_client::Result;

constexpr const char *kDefaultDir = "/run/dbus-checkpoint";
constexpr const char *kFirstLine = "dbus-checkpoint stopped-in-place 1";

// Checkpoint ids are hex; anything else is no file of ours (and never a path).
bool is_file_name_id(const std::string &id)
{
  return !id.empty() && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0;
  });
}

} // namespace

fs::path stop_record_dir()
{
  const char *dir = std::getenv("DBUS_CHECKPOINT_RUN_DIR");
  return dir && *dir ? fs::path(dir) : fs::path(kDefaultDir);
}

std::string format_stop_record(const std::string &checkpoint_id, const StoppedTree &stopped)
{
  std::ostringstream text;
  text << kFirstLine << "\n"
       << "checkpoint " << checkpoint_id << "\n"
       << "method " << to_string(stopped.method) << "\n"
       << "owner " << stopped.owner << "\n";
  if (stopped.method == StopMethod::CgroupFreezer)
    text << "cgroup " << stopped.cgroup_dir.string() << "\n";
  for (const ProcessId &process : stopped.processes)
    text << "process " << process.pid << " " << process.start_time << "\n";
  return text.str();
}

std::optional<StoppedTree> parse_stop_record(const std::string &text)
{
  std::istringstream lines(text);
  std::string line;
  if (!std::getline(lines, line) || line != kFirstLine)
    return std::nullopt;
  StoppedTree stopped;
  bool has_method = false;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "method") {
      std::string method;
      fields >> method;
      has_method = method == "cgroup" || method == "signal";
      stopped.method = method == "cgroup" ? StopMethod::CgroupFreezer : StopMethod::Signals;
    } else if (key == "owner") {
      fields >> stopped.owner;
    } else if (key == "cgroup") {
      stopped.cgroup_dir = line.substr(std::string("cgroup ").size());
    } else if (key == "process") {
      ProcessId process;
      fields >> process.pid >> process.start_time;
      stopped.processes.push_back(process);
    }
    if (fields.fail())
      return std::nullopt;
  }
  bool complete = has_method && (stopped.method == StopMethod::Signals ||
                                 !stopped.cgroup_dir.empty());
  return complete ? std::optional(stopped) : std::nullopt;
}

Result<void> save_stop_record(const fs::path &dir, const std::string &checkpoint_id,
                              const StoppedTree &stopped)
{
  if (!is_file_name_id(checkpoint_id))
    return Error{"", "not a checkpoint id: " + checkpoint_id};
  if (auto trusted = check_trusted_directory(dir, true); !trusted)
    return trusted;
  return replace_file(dir / checkpoint_id, format_stop_record(checkpoint_id, stopped), 0600);
}

Result<std::optional<StoppedTree>> load_stop_record(const fs::path &dir,
                                                    const std::string &checkpoint_id)
{
  if (!is_file_name_id(checkpoint_id))
    return std::optional<StoppedTree>();
  const fs::path path = dir / checkpoint_id;
  std::error_code error;
  if (!fs::exists(fs::symlink_status(path, error)))
    return std::optional<StoppedTree>();
  // it names processes and a cgroup that root resumes
  if (auto trusted = check_trusted_directory(dir, false); !trusted)
    return trusted.error();
  auto text = read_whole_file(path);
  if (!text)
    return text.error();
  auto stopped = parse_stop_record(text.value());
  if (!stopped)
    return Error{"", path.string() + " is not a record of stopped processes"};
  return stopped;
}

void remove_stop_record(const fs::path &dir, const std::string &checkpoint_id)
{
  if (!is_file_name_id(checkpoint_id))
    return;
  std::error_code ignored;
  fs::remove(dir / checkpoint_id, ignored);
}

} // namespace dbus_checkpoint::cli
