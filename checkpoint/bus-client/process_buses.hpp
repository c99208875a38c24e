// SPDX-License-Identifier: GPL-2.0-or-later
// Which buses a process talks to, as far as its environment says:
// DBUS_SYSTEM_BUS_ADDRESS and DBUS_SESSION_BUS_ADDRESS from
// /proc/PID/environ (what it was started with; libdbus, sd-bus and GDBus
// all read these).  The CLI freezes connections on each of them; the CRIU
// plugin claims sockets connected to them.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace dbus_checkpoint::bus_client {

struct ProcessBuses {
  std::string system;   // empty: not set
  std::string session;  // empty: not set
};

// `text` cut at each `separator` (empty parts kept).
std::vector<std::string_view> split_list(std::string_view text, char separator);

// The unix:path= values of a D-Bus address ("unix:path=/a;tcp:..."),
// unescaped; other transports and keys are left out.
std::vector<std::string> unix_paths_of_address(std::string_view address);

// The two addresses name one bus: equal, or a unix:path= of each is the
// same socket file (/var/run/dbus/... and /run/dbus/...).
bool same_bus(const std::string &a, const std::string &b);

// The value of `name` in a NUL-separated environment block; empty if unset.
std::string environment_value(std::string_view environ_block, std::string_view name);

// Both addresses of process `pid` (root reads any process's environ).
base::Result<ProcessBuses> process_bus_addresses(pid_t pid);

} // namespace dbus_checkpoint::bus_client
