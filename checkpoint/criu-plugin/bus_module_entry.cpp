// SPDX-License-Identifier: GPL-2.0-or-later
// The bus module's exported calls (bus_module.hpp), the boundary into
// socket_hooks.cpp.
#include "bus_module.hpp"
#include "plugin_guard.hpp"
#include "socket_hooks.hpp"

using namespace dbus_checkpoint::criu_plugin;

extern "C" __attribute__((visibility("default"))) int dcp_criu_bus_dump(int fd, std::uint32_t socket_inode,
                                                                       int images_dir)
{
  return guarded("dump", [&] { return dump_bus_socket(fd, socket_inode, images_dir); });
}

extern "C" __attribute__((visibility("default"))) int dcp_criu_bus_restore(std::uint32_t socket_inode,
                                                                          int images_dir)
{
  return guarded("restore", [&] { return restore_bus_socket(socket_inode, images_dir); });
}
