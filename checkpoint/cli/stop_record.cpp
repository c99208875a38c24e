// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/stop_record.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/files.hpp"
#include "cli/json.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

constexpr const char *kDefaultDir = "/run/dbus-checkpoint";
constexpr const char *kFormat = "dbus-checkpoint stopped-in-place 2";
// What dbus-checkpoint 0.1 wrote: lines of text.
constexpr std::string_view kTextFormat = "dbus-checkpoint stopped-in-place 1\n";

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
  Json processes = Json::array();
  for (const ProcessId &process : stopped.processes)
    processes.push_back({{"pid", process.pid}, {"start_time", process.start_time}});
  const Json record = {{"format", kFormat},
                       {"checkpoint", checkpoint_id},
                       {"method", to_string(stopped.method)},
                       {"owner", stopped.owner},
                       {"cgroup", stopped.method == StopMethod::CgroupFreezer
                                      ? Json(stopped.cgroup_dir.string())
                                      : Json()},
                       {"processes", std::move(processes)}};
  return json_text(record) + "\n";
}

std::optional<StoppedTree> parse_stop_record(const std::string &text)
{
  auto parsed = parse_json(text);
  if (!parsed)
    return std::nullopt;
  const Json &record = parsed.value();
  // Written by this program into a directory only root may write: any
  // surprise means "not a record", never a guess.
  try {
    if (!record.is_object() || record.value("format", "") != kFormat)
      return std::nullopt;
    StoppedTree stopped;
    const std::string method = record.at("method").get<std::string>();
    if (method != "cgroup" && method != "signal")
      return std::nullopt;
    stopped.method = method == "cgroup" ? StopMethod::CgroupFreezer : StopMethod::Signals;
    if (!json_integer(record.at("owner"), stopped.owner))
      return std::nullopt;
    if (stopped.method == StopMethod::CgroupFreezer)
      stopped.cgroup_dir = record.at("cgroup").get<std::string>();
    for (const Json &process : record.at("processes")) {
      ProcessId id;
      if (!json_integer(process.at("pid"), id.pid) ||
          !json_integer(process.at("start_time"), id.start_time))
        return std::nullopt;
      stopped.processes.push_back(id);
    }
    if (stopped.method == StopMethod::CgroupFreezer && stopped.cgroup_dir.empty())
      return std::nullopt;
    return stopped;
  } catch (const Json::exception &) {
    return std::nullopt;
  }
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
  if (text.value().starts_with(kTextFormat))
    return Error{"", path.string() + " was written by dbus-checkpoint 0.1 (a text record), which "
                                     "this version does not read: resume its processes by hand "
                                     "(kill -CONT, or 0 into their cgroup's cgroup.freeze) and "
                                     "remove the file"};
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
