// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/process_tree.hpp"

#include "cli/files.hpp"

#include <charconv>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kStartTimeField = 22;  // proc(5), counting pid as field 1

bool parse_number(const std::string &text, auto &value)
{
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

std::map<pid_t, std::vector<ProcessInfo>> children_by_parent()
{
  std::map<pid_t, std::vector<ProcessInfo>> children;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator("/proc", error)) {
    pid_t pid = 0;
    if (!parse_number(entry.path().filename().string(), pid))
      continue;
    if (auto process = read_process(pid))
      children[process->parent].push_back(*process);
  }
  return children;
}

} // namespace

std::optional<ProcessInfo> parse_proc_stat(const std::string &stat_line)
{
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  auto comm_end = stat_line.rfind(')');
  if (comm_end == std::string::npos)
    return std::nullopt;
  ProcessInfo info;
  if (!parse_number(stat_line.substr(0, stat_line.find(' ')), info.id.pid))
    return std::nullopt;
  std::istringstream fields(stat_line.substr(comm_end + 1));
  std::string field;
  for (int number = 3; fields >> field; ++number) {
    if (number == 3)
      info.state = field.at(0);
    else if (number == 4 && !parse_number(field, info.parent))
      return std::nullopt;
    else if (number == kStartTimeField)
      return parse_number(field, info.id.start_time) ? std::optional(info) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<ProcessInfo> read_process(pid_t pid)
{
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line))
    return std::nullopt;
  return parse_proc_stat(line);
}

bool is_alive(const ProcessId &id)
{
  auto process = read_process(id.pid);
  return process && process->id == id && process->state != 'Z' && process->state != 'X';
}

base::Result<std::vector<ProcessInfo>> process_tree(pid_t root)
{
  auto root_process = read_process(root);
  if (!root_process)
    return base::Error{"", "there is no process " + std::to_string(root)};
  auto children = children_by_parent();
  std::vector<ProcessInfo> tree{*root_process};
  for (std::size_t next = 0; next < tree.size(); ++next) {
    auto found = children.find(tree[next].id.pid);
    if (found != children.end())
      tree.insert(tree.end(), found->second.begin(), found->second.end());
  }
  return tree;
}

bool wait_until_stopped(const std::vector<ProcessId> &processes,
                        std::chrono::milliseconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const ProcessId &id : processes) {
    for (;;) {
      auto process = read_process(id.pid);
      if (!process || process->id != id || process->state == 'T')
        break;
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return true;
}

std::string process_name(pid_t pid)
{
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

bool pid_in_use(pid_t pid)
{
  std::error_code error;
  return fs::exists("/proc/" + std::to_string(pid), error);
}

std::vector<pid_t> wait_until_gone(const std::vector<pid_t> &pids,
                                   std::chrono::milliseconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<pid_t> in_use;
    for (pid_t pid : pids)
      if (pid_in_use(pid))
        in_use.push_back(pid);
    if (in_use.empty() || std::chrono::steady_clock::now() >= deadline)
      return in_use;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::uint64_t proc_status_mask(const std::string &status_text, const std::string &key)
{
  std::istringstream lines(status_text);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with(key + ":")) {
      std::uint64_t mask = 0;
      const std::string digits = line.substr(key.size() + 1);
      const auto begin = digits.find_first_not_of(" \t");
      if (begin != std::string::npos)
        std::from_chars(digits.data() + begin, digits.data() + digits.size(), mask, 16);
      return mask;
    }
  return 0;
}

namespace {

constexpr std::uint64_t signal_bit(int signal) { return std::uint64_t{1} << (signal - 1); }

} // namespace

std::uint64_t fatal_signals_pending(const std::string &status_text)
{
  constexpr std::uint64_t kNotTerminating = signal_bit(SIGCHLD) | signal_bit(SIGCONT) |
                                            signal_bit(SIGURG) | signal_bit(SIGWINCH) |
                                            signal_bit(SIGSTOP) | signal_bit(SIGTSTP) |
                                            signal_bit(SIGTTIN) | signal_bit(SIGTTOU);
  const std::uint64_t pending =
      proc_status_mask(status_text, "SigPnd") | proc_status_mask(status_text, "ShdPnd");
  const std::uint64_t handled = proc_status_mask(status_text, "SigBlk") |
                                proc_status_mask(status_text, "SigIgn") |
                                proc_status_mask(status_text, "SigCgt");
  // SIGKILL can be neither blocked, ignored nor caught.
  return (pending & ~handled & ~kNotTerminating) | (pending & signal_bit(SIGKILL));
}

std::uint64_t fatal_signals_pending(pid_t pid)
{
  auto status = read_whole_file("/proc/" + std::to_string(pid) + "/status");
  return status ? fatal_signals_pending(status.value()) : 0;
}

} // namespace dbus_checkpoint::cli
