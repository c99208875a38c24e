// SPDX-License-Identifier: GPL-2.0-or-later
// dbus-checkpoint's CRIU plugin: CRIU calls it for every socket of a dumped
// task whose peer is outside the dump, and again for each socket it
// claimed when restoring.  The work is in prepared_reattach.cpp (the
// common restore of a bus connection), the bus module (bus_module.hpp:
// the rest of bus connections, loaded when needed) and journal_stream.cpp
// (stdout/stderr and syslog sockets to the journal); here is only the
// registration and the boundary, where no C++ exception may pass into
// CRIU.
//
// Built with DCP_CRIU_PLUGIN_ONE_PIECE, the bus module's code is linked in
// and called for every bus socket, as before the split: dcp-bench-restore
// measures the two side by side.
#include <cerrno>
#include <cstdint>

#include "journal_stream.hpp"
#include "plugin_guard.hpp"
#ifdef DCP_CRIU_PLUGIN_ONE_PIECE
#include "socket_hooks.hpp"
#else
#include "bus_module.hpp"
#include "prepared_reattach.hpp"
#endif

// CRIU finds CR_PLUGIN_DESC with dlsym: it is the one symbol the plugin
// exports (see exports.map); everything else is hidden.
// Its path comes from the build (CRIU's source tree; see CMakeLists.txt),
// whose unused-parameter stubs are not ours to fix.
#pragma GCC visibility push(default)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
extern "C" {
#include DCP_CRIU_PLUGIN_HEADER
}
#pragma GCC diagnostic pop
#pragma GCC visibility pop

namespace {

using namespace dbus_checkpoint::criu_plugin;

#ifdef DCP_CRIU_PLUGIN_ONE_PIECE
int dump_bus(int fd, std::uint32_t inode, int images_dir) { return dump_bus_socket(fd, inode, images_dir); }
int restore_bus(std::uint32_t inode, int images_dir) { return restore_bus_socket(inode, images_dir); }
#else
int dump_bus(int fd, std::uint32_t inode, int images_dir) { return bus_module_dump(fd, inode, images_dir); }

int restore_bus(std::uint32_t inode, int images_dir)
{
  dbus_checkpoint::base::UniqueFd socket;
  int error = 0;
  switch (restore_prepared_bus_socket(inode, images_dir, socket, error)) {
  case PreparedReattach::kDone:
    return socket.release();
  case PreparedReattach::kNotOurs:
    return -ENOTSUP;
  case PreparedReattach::kFailed:
    return error;
  case PreparedReattach::kNeedsBusModule:
    break;
  }
  return bus_module_restore(inode, images_dir);
}
#endif

// CRIU passes socket inodes (32 bits in the kernel) as int.
int dump_unix_socket(int fd, int id)
{
  return guarded("dump", [&] {
    const auto inode = static_cast<std::uint32_t>(id);
    int claimed = dump_bus(fd, inode, criu_get_image_dir());
    if (claimed != -ENOTSUP)
      return claimed;
    return dump_journal_socket(fd, inode, criu_get_image_dir());
  });
}

int restore_unix_socket(int id)
{
  return guarded("restore", [&] {
    const auto inode = static_cast<std::uint32_t>(id);
    int restored = restore_bus(inode, criu_get_image_dir());
    if (restored != -ENOTSUP)
      return restored;
    return restore_journal_socket(inode, criu_get_image_dir());
  });
}

int plugin_init(int) { return 0; }
void plugin_fini(int, int) {}

} // namespace

// CRIU's macro leaves hooks[] to the zero-initialization it means.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
extern "C" {
CR_PLUGIN_REGISTER("dbus-checkpoint", plugin_init, plugin_fini)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__DUMP_UNIX_SK, dump_unix_socket)
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESTORE_UNIX_SK, restore_unix_socket)
}
#pragma GCC diagnostic pop
