// SPDX-License-Identifier: GPL-2.0-or-later
#include "plugin_log.hpp"

#include <cstdio>

// CRIU's log function (criu/include/log.h), resolved against the criu
// executable when the plugin is loaded; weak so that a CRIU without it
// still loads the plugin.
extern "C" void print_on_level(unsigned int loglevel, const char *format, ...)
    __attribute__((weak, format(printf, 2, 3)));

namespace dbus_checkpoint::criu_plugin {
namespace {

// CRIU's LOG_ERROR and LOG_INFO.
constexpr unsigned kLogError = 1;
constexpr unsigned kLogInfo = 3;

void log_at(unsigned level, const char *prefix, const std::string &text)
{
  if (print_on_level != nullptr)
    print_on_level(level, "%sdbus-checkpoint: %s\n", prefix, text.c_str());
  else
    std::fprintf(stderr, "%sdbus-checkpoint: %s\n", prefix, text.c_str());
}

} // namespace

// "Error" as CRIU's pr_err starts its lines, so that grepping a log for
// errors finds ours too.
void log_error(const std::string &text) { log_at(kLogError, "Error: ", text); }
void log_info(const std::string &text) { log_at(kLogInfo, "", text); }

std::string elapsed_ms(std::chrono::steady_clock::time_point started)
{
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return std::to_string(ms.count()) + " ms";
}

} // namespace dbus_checkpoint::criu_plugin
