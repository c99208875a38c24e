// SPDX-License-Identifier: GPL-2.0-or-later
#include "criu-probe/restore_phases.hpp"

#include <cstdio>
#include <optional>
#include <sstream>

namespace dbus_checkpoint::criu {
namespace {

// The seconds of a "(SS.UUUUUU) text" line; nullopt for other lines.
std::optional<double> timestamp_of(const std::string &line)
{
  double seconds = 0;
  char close = 0;
  if (line.size() < 4 || line[0] != '(' || std::sscanf(line.c_str(), "(%lf%c", &seconds, &close) != 2 ||
      close != ')')
    return std::nullopt;
  return seconds;
}

bool contains(const std::string &line, const char *marker) { return line.find(marker) != std::string::npos; }

} // namespace

std::vector<Phase> restore_phases(const std::string &log_text)
{
  std::optional<double> first, last, before_plugins, plugins_loaded, first_hook, finished;
  double previous = 0, reattach_ms = 0;
  std::optional<double> hook_started;
  std::istringstream lines(log_text);
  for (std::string line; std::getline(lines, line);) {
    const auto time = timestamp_of(line);
    if (!time)
      continue;
    if (!first)
      first = *time;
    if (contains(line, "Plugin \"") && !before_plugins)
      before_plugins = previous;
    if (contains(line, "Plugin \""))
      plugins_loaded = *time;
    if (contains(line, "plugin: `dbus-checkpoint' hook")) {
      if (!first_hook)
        first_hook = *time;
      hook_started = *time;
    }
    if (contains(line, "dbus-checkpoint: socket") && hook_started) {
      reattach_ms += (*time - *hook_started) * 1000;
      hook_started.reset();
    }
    if (contains(line, "Restore finished successfully"))
      finished = *time;
    previous = *time;
    last = *time;
  }
  std::vector<Phase> phases;
  if (!first)
    return phases;
  const auto add = [&](const char *name, std::optional<double> from, std::optional<double> to,
                       double minus_ms = 0) {
    if (from && to && *to >= *from)
      phases.push_back({name, (*to - *from) * 1000 - minus_ms});
  };
  add("start-up", first, before_plugins);
  add("plugin load", before_plugins, plugins_loaded);
  add("fork, files", plugins_loaded, first_hook);
  if (first_hook)
    phases.push_back({"reattach", reattach_ms});
  add("memory, restorer", first_hook ? first_hook : plugins_loaded, finished, reattach_ms);
  add("finish", finished, last);
  return phases;
}

double logged_ms(const std::vector<Phase> &phases)
{
  double sum = 0;
  for (const Phase &phase : phases)
    sum += phase.ms;
  return sum;
}

std::string describe_phases(const std::vector<Phase> &phases)
{
  std::string out;
  char number[32];
  for (const Phase &phase : phases) {
    std::snprintf(number, sizeof number, "%.1f", phase.ms);
    out += (out.empty() ? "" : ", ") + phase.name + " " + number;
  }
  return out.empty() ? out : out + " ms";
}

} // namespace dbus_checkpoint::criu
