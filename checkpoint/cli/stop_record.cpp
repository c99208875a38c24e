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

// Strict: every line known, method, owner and checkpoint once each, a
// cgroup only for the cgroup method, nothing after a line's fields (found
// by test/fuzz/fuzz_stop_record: a lax reader took records that did not
// mean what they said).
std::optional<StoppedTree> parse_stop_record(const std::string &text)
{
  std::istringstream lines(text);
  std::string line;
  if (!std::getline(lines, line) || line != kFirstLine)
    return std::nullopt;
  StoppedTree stopped;
  std::string method;
  bool has_owner = false, has_checkpoint = false, has_cgroup = false;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "checkpoint" && !has_checkpoint) {
      std::string id;
      fields >> id;
      has_checkpoint = is_file_name_id(id);
    } else if (key == "method" && method.empty()) {
      fields >> method;
      if (method != "cgroup" && method != "signal")
        return std::nullopt;
      stopped.method = method == "cgroup" ? StopMethod::CgroupFreezer : StopMethod::Signals;
    } else if (key == "owner" && !has_owner) {
      fields >> stopped.owner;
      has_owner = stopped.owner > 0;
    } else if (key == "cgroup" && !has_cgroup && line.size() > std::string("cgroup ").size()) {
      stopped.cgroup_dir = line.substr(std::string("cgroup ").size());
      has_cgroup = true;
      continue;  // the rest of the line is the path
    } else if (key == "process") {
      ProcessId process;
      fields >> process.pid >> process.start_time;
      if (process.pid <= 0)
        return std::nullopt;
      stopped.processes.push_back(process);
    } else {
      return std::nullopt;
    }
    if (fields.fail() || !(fields >> std::ws).eof())
      return std::nullopt;
  }
  const bool cgroup_method = stopped.method == StopMethod::CgroupFreezer;
  const bool complete = has_checkpoint && !method.empty() && has_owner && has_cgroup == cgroup_method;
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
