// SPDX-License-Identifier: GPL-2.0-or-later
// The plugin's lines in CRIU's own log (-o FILE, -v): CRIU gives plugins no
// logging API in criu-plugin.h, but its executable exports print_on_level,
// which writes to the log with CRIU's levels and timestamps.  Without it
// (another CRIU build), lines go to stderr.
#pragma once

#include <chrono>
#include <string>

namespace dbus_checkpoint::criu_plugin {

void log_error(const std::string &text);
void log_info(const std::string &text);

// "12 ms": the time since `started`, for those lines.
std::string elapsed_ms(std::chrono::steady_clock::time_point started);

} // namespace dbus_checkpoint::criu_plugin
