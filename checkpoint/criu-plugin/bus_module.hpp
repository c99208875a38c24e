// SPDX-License-Identifier: GPL-2.0-or-later
// The plugin's bus module, dbus-checkpoint-criu.d/dbus-checkpoint-criu-bus.so
// beside the plugin: the hooks that talk to the bus's Checkpoint interface
// (socket_hooks.hpp: ListFrozen and Export at dump; Import, Reattach and
// its errors at restore) with sd-bus, libdbus and the record library.
// Loaded (dlopen) the first time a dump or such a restore needs it, so
// the common restore (prepared_reattach.hpp) loads none of them.  Not a
// *.so of CRIU's plugin directory itself: CRIU would load it at start-up.
#pragma once

#include <cstdint>

// What the bus module exports (its exports.map), as socket_hooks.hpp's
// dump_bus_socket and restore_bus_socket; no exception leaves them.
extern "C" {
int dcp_criu_bus_dump(int fd, std::uint32_t socket_inode, int images_dir);
int dcp_criu_bus_restore(std::uint32_t socket_inode, int images_dir);
}

namespace dbus_checkpoint::criu_plugin {

// The bus module's calls, loaded on the first; -ELIBACC (with a line in
// CRIU's log) when the module cannot be loaded.
int bus_module_dump(int fd, std::uint32_t socket_inode, int images_dir);
int bus_module_restore(std::uint32_t socket_inode, int images_dir);

} // namespace dbus_checkpoint::criu_plugin
