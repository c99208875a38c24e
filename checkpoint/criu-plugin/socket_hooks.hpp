// SPDX-License-Identifier: GPL-2.0-or-later
// What the plugin does with a task's socket when CRIU dumps and restores
// it (DESIGN.md §3).  Each returns what CRIU's hook wants: 0 or a new fd,
// -ENOTSUP for a socket that is not ours, another negative errno (with a
// line in CRIU's log saying why) to fail the dump or restore.
#pragma once

#include <cstdint>

namespace dbus_checkpoint::criu_plugin {

// fd: CRIU's duplicate of the task's socket; socket_inode: its inode.
// For a socket connected to a known bus whose connection is frozen: keeps
// the record (with the bytes the client had not read) and the bus's path
// in images_dir.  A bus connection that is not frozen fails the dump: the
// bus would go on delivering to a socket that is about to close.
int dump_bus_socket(int fd, std::uint32_t socket_inode, int images_dir);

// A socket on the bus that continues the frozen connection (Imported
// first if this bus does not know it), its Reattach answered and nothing
// else read: the restored client's stream continues at the next byte once
// the connection is thawed.
int restore_bus_socket(std::uint32_t socket_inode, int images_dir);

} // namespace dbus_checkpoint::criu_plugin
