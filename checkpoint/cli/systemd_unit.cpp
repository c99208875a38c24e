// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/systemd_unit.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/program.hpp"
#include "cli/criu_steps.hpp"
#include "cli/files.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

constexpr const char *kRuntimeUnitDir = "/run/systemd/system";
constexpr const char *kPersistentUnitDir = "/etc/systemd/system";
constexpr const char *kPidFileDir = "/run/dbus-checkpoint";
// The drop-in's line naming the checkpoint ids, which discard looks for.
constexpr const char *kIdsLine = "# dbus-checkpoint checkpoint ids:";

std::string systemctl_path()
{
  for (const char *path : {"/usr/bin/systemctl", "/bin/systemctl"})
    if (::access(path, X_OK) == 0)
      return path;
  return "/usr/bin/systemctl";
}

// The cgroup path of `pid` in systemd's hierarchy: "0::PATH" (v2) or
// "N:name=systemd:PATH" (v1).
std::string systemd_cgroup_of(const std::string &proc_cgroup_file)
{
  std::ifstream file(proc_cgroup_file);
  std::string line, unified;
  while (std::getline(file, line)) {
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers == "name=systemd")
      return path;
    if (controllers.empty())
      unified = path;
  }
  return unified;
}

// Needs no quoting nor escaping in a unit file.
bool is_plain_word(const std::string &word)
{
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("/._:=@,+-").find(c) != std::string_view::npos;
  });
}

// One ExecStart= word: as it is if plain, else quoted, with systemd's
// specifiers and variables escaped.
Result<std::string> unit_word(const std::string &word)
{
  if (word.find_first_of("\"\\\n'") != std::string::npos ||
      std::any_of(word.begin(), word.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return Error{"", "cannot put \"" + word + "\" into a unit's ExecStart= (quotes, backslashes or "
                                              "control characters)"};
  if (is_plain_word(word))
    return word;
  std::string out = "\"";
  for (char c : word) {
    if (c == '%')
      out += "%%";
    else if (c == '$')
      out += "$$";
    else
      out += c;
  }
  return out + "\"";
}

bool under(const fs::path &path, const fs::path &top)
{
  auto [end, ignored] = std::mismatch(top.begin(), top.end(), path.begin(), path.end());
  return end == top.end();
}

} // namespace

bool is_service_unit_name(const std::string &name)
{
  constexpr std::string_view suffix = ".service";
  if (name.size() <= suffix.size() || name.size() > 255 || !name.ends_with(suffix))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ':' || c == '_' || c == '.' || c == '-' || c == '@' || c == '\\';
  });
}

Result<std::string> systemctl(const std::vector<std::string> &arguments, std::chrono::seconds timeout)
{
  base::ProgramCommand command;
  command.argv = {systemctl_path()};
  command.argv.insert(command.argv.end(), arguments.begin(), arguments.end());
  command.timeout = timeout;
  auto run = base::run_program(command);
  if (!run)
    return run.error();
  std::string joined;
  for (const std::string &word : arguments)
    joined += " " + word;
  if (!run.value().succeeded()) {
    std::string output = run.value().output;
    while (!output.empty() && output.back() == '\n')
      output.pop_back();
    return Error{"", "systemctl" + joined + ": " + run.value().describe_end(command.timeout) +
                         (output.empty() ? "" : ":\n" + output)};
  }
  return run.value().output;
}

std::string unit_property(const std::string &unit, const std::string &property)
{
  auto value = systemctl({"show", "-P", property, unit});
  if (!value)
    return "";
  std::string text = value.value();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

Result<std::optional<std::string>> service_unit_of(pid_t pid, std::string &note_out)
{
  note_out.clear();
  std::error_code error;
  if (!fs::is_directory("/run/systemd/system", error))
    return std::optional<std::string>();  // systemd does not run this system
  const std::string cgroup = systemd_cgroup_of("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string unit = fs::path(cgroup).filename().string();
  if (!is_service_unit_name(unit))
    return std::optional<std::string>();
  const std::string main_pid = unit_property(unit, "MainPID");
  if (main_pid != std::to_string(pid)) {
    note_out = "pid " + std::to_string(pid) + " is in the cgroup of " + unit +
               " but is not its main process (MainPID " + (main_pid.empty() ? "?" : main_pid) +
               "): the unit is left as it is";
    return std::optional<std::string>();
  }
  return std::optional<std::string>(unit);
}

fs::path drop_in_path(const std::string &unit, const fs::path &images_dir)
{
  // Images under /run do not survive a reboot, nor should the takeover.
  const fs::path top = under(images_dir, "/run") ? kRuntimeUnitDir : kPersistentUnitDir;
  return top / (unit + ".d") / kDropInName;
}

fs::path pid_file_path(const std::string &unit)
{
  return fs::path(kPidFileDir) / (unit + ".pid");
}

Result<std::string> drop_in_text(const std::string &unit, const fs::path &images_dir,
                                 const std::vector<std::string> &checkpoint_ids,
                                 const std::vector<std::string> &restore_argv, bool in_sandbox)
{
  // as root; outside the unit's sandbox unless the service runs in it
  std::string exec_start = in_sandbox ? "!" : "+";
  for (const std::string &word : restore_argv) {
    auto quoted = unit_word(word);
    if (!quoted)
      return quoted.error();
    exec_start += (exec_start.size() > 1 ? " " : "") + quoted.value();
  }
  // the criu of the restore (its --criu)
  std::string criu;
  for (auto word = restore_argv.begin(); word != restore_argv.end(); ++word)
    if (*word == "--criu" && word + 1 != restore_argv.end())
      criu = *(word + 1);
  if (in_sandbox && !is_plain_word(criu))
    return Error{"", "the criu of a sandboxed unit's restore must be a path of letters, digits "
                     "and /._:=@,+- only, not \"" + criu + "\""};
  // ReadWritePaths= takes the images' path as it is: no quoting there
  if (in_sandbox && !is_plain_word(images_dir.string()))
    return Error{"", "the images directory " + images_dir.string() + " of a sandboxed unit must be "
                     "a path of letters, digits and /._:=@,+- only (it goes into the unit's "
                     "ReadWritePaths=)"};
  std::string ids;
  for (const std::string &id : checkpoint_ids)
    ids += " " + id;
  std::ostringstream text;
  text << "# Written by dbus-checkpoint checkpoint: the main process of " << unit
       << "\n# is checkpointed in " << images_dir.string()
       << ". Starting the unit restores it (the\n"
          "# restore removes this file); dbus-checkpoint discard ID gives the unit its\n"
          "# own start back.\n"
       << kIdsLine << ids << "\n"
       << "[Unit]\n"
          "# the restore reattaches to the bus (at boot too)\n"
          "After=dbus.service\n"
          "[Service]\n"
          "# the dump's SIGKILL stops the unit cleanly; nothing restarts it\n"
          "SuccessExitStatus=SIGKILL\n"
          "Restart=no\n"
          "ExecStop=\n"
          "ExecStopPost=\n"
          "ExecReload=\n"
          "# its start is the restore: the restored pid is its main pid\n"
          "Type=forking\n"
          "ExecStartPre=\n"
          "ExecStart=\n"
          "ExecStart=" << exec_start << "\n"
       << "PIDFile=" << pid_file_path(unit).string() << "\n"
       << "Environment=" << kUnitEnvironment << "=%n\n";
  const std::string drop_in_dir = drop_in_path(unit, images_dir).parent_path().string();
  if (in_sandbox)
    text << "# criu restores the service inside the sandbox systemd makes for this start,\n"
            "# as for the service's own; lifted for criu, the restored process gets its\n"
            "# own back from the images (seccomp filters, no_new_privs, capabilities)\n"
            "NoNewPrivileges=no\n"
            "SystemCallFilter=\n"
            "SystemCallArchitectures=\n"
            "RestrictAddressFamilies=\n"
            "RestrictNamespaces=no\n"
            "LockPersonality=no\n"
            "MemoryDenyWriteExecute=no\n"
            "RestrictRealtime=no\n"
            "RestrictSUIDSGID=no\n"
            "CapabilityBoundingSet=~\n"
            "ProtectProc=default\n"
            "ProcSubset=all\n"
            "# criu's kernel probe, which needs a writable /tmp, cached from outside\n"
            "ExecStartPre=-+" << kdat_cache_command(criu) << "\n"
            "# what the restore writes: its log and lock, the pid file, this file\n"
            "ExecStartPre=+/bin/mkdir -p " << kPidFileDir << "\n"
         << "ReadWritePaths=" << images_dir.string() << " " << kPidFileDir << " " << drop_in_dir
         << "\n";
  text << "# once started, systemd reloads its configuration: this file is gone then\n"
          "ExecStartPost=\n";
  if (in_sandbox)  // a mount point in the sandbox: removed from outside
    text << "ExecStartPost=-+/bin/rmdir " << drop_in_dir << "\n";
  text << "ExecStartPost=-+" << systemctl_path() << " daemon-reload\n";
  return text.str();
}

Result<UnitTakeover> take_over_unit(const std::string &unit, const fs::path &images_dir,
                                    const std::vector<std::string> &checkpoint_ids,
                                    const std::vector<std::string> &restore_argv,
                                    bool in_sandbox)
{
  auto text = drop_in_text(unit, images_dir, checkpoint_ids, restore_argv, in_sandbox);
  if (!text)
    return text.error();
  UnitTakeover takeover{unit, drop_in_path(unit, images_dir), pid_file_path(unit)};
  std::error_code error;
  fs::create_directories(takeover.drop_in.parent_path(), error);
  if (error)
    return Error{"", "cannot create " + takeover.drop_in.parent_path().string() + ": " + error.message()};
  if (auto written = replace_file(takeover.drop_in, text.value(), 0644); !written)
    return written.error();
  if (auto reloaded = systemctl({"daemon-reload"}, std::chrono::seconds(60)); !reloaded) {
    (void)give_back_unit(takeover, false);
    return reloaded.error();
  }
  return takeover;
}

Result<void> give_back_unit(const UnitTakeover &takeover, bool reload)
{
  std::error_code error;
  fs::remove(takeover.drop_in, error);
  if (error)
    return Error{"", "cannot remove " + takeover.drop_in.string() + ": " + error.message()};
  std::error_code ignored;
  fs::remove(takeover.drop_in.parent_path(), ignored);  // only if empty
  if (reload)
    if (auto reloaded = systemctl({"daemon-reload"}, std::chrono::seconds(60)); !reloaded)
      return reloaded.error();
  return {};
}

std::vector<UnitTakeover> takeovers_naming(const std::string &checkpoint_id)
{
  std::vector<UnitTakeover> found;
  for (const char *top : {kRuntimeUnitDir, kPersistentUnitDir}) {
    std::error_code error;
    for (const fs::directory_entry &entry : fs::directory_iterator(top, error)) {
      const std::string directory = entry.path().filename().string();
      if (!directory.ends_with(".d"))
        continue;
      const std::string unit = directory.substr(0, directory.size() - 2);
      const fs::path drop_in = entry.path() / kDropInName;
      auto text = read_whole_file(drop_in);
      if (!is_service_unit_name(unit) || !text)
        continue;
      std::istringstream lines(text.value());
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with(kIdsLine))
          continue;
        std::istringstream ids(line.substr(std::string_view(kIdsLine).size()));
        for (std::string id; ids >> id;)
          if (id == checkpoint_id)
            found.push_back(UnitTakeover{unit, drop_in, pid_file_path(unit)});
      }
    }
  }
  return found;
}

bool running_as_start_of(const std::string &unit)
{
  const char *named = std::getenv(kUnitEnvironment);
  if (named == nullptr || unit != named)
    return false;
  return fs::path(systemd_cgroup_of("/proc/self/cgroup")).filename() == unit;
}

} // namespace dbus_checkpoint::cli
