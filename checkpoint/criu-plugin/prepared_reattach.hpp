// SPDX-License-Identifier: GPL-2.0-or-later
// The common restore of a bus socket, with nothing but the socket: the
// Reattach call the dump prepared (dbus-checkpoint-<ino>.reattach, see
// image_files.hpp) sent on a new socket to the bus that froze the
// connection.  No record is parsed and no client library is loaded, so
// the plugin CRIU loads at restore links none (DESIGN.md §3).  The rest --
// a bus that does not know the checkpoint (Import, then Reattach), images
// of a plugin that prepared no call, a D-Bus error to report -- is the bus
// module's (bus_module.hpp).
#pragma once

#include <cstdint>

#include "base/unique_fd.hpp"

namespace dbus_checkpoint::criu_plugin {

// Reattach is the first message on its socket.
inline constexpr std::uint32_t kReattachSerial = 1;

enum class PreparedReattach {
  kDone,            // socket_out continues the frozen connection
  kNotOurs,         // no bus socket of ours has this inode
  kNeedsBusModule,  // no prepared call, or the bus did not answer it with a method return
  kFailed,          // logged; `error_out` is the negative errno for CRIU
};

PreparedReattach restore_prepared_bus_socket(std::uint32_t socket_inode, int images_dir,
                                             base::UniqueFd &socket_out, int &error_out);

} // namespace dbus_checkpoint::criu_plugin
