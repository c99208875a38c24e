// SPDX-License-Identifier: GPL-2.0-or-later
// Whether a bus that mediates its clients with an LSM (SELinux, AppArmor)
// may adopt a frozen connection from its record (issue 12, finding 2).
//
// An LSM mediates a bus client as the label the kernel gives the peer of
// its socket.  An adopted connection's socket is the bus's own socketpair,
// so the bus would mediate it as the bus itself, while it reports the
// record's label to GetConnectionCredentials: a confined service restored
// that way would leave its confinement on the bus.  Until the bus can
// mediate such a connection as its recorded label, it adopts one only when
// the two labels are the same (an unconfined service on an unconfined bus,
// the common case with AppArmor) and refuses the others, saying why.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dbus_checkpoint::record {

// The label an LSM gives the peer of the connected Unix socket fd
// (SO_PEERSEC), without trailing NULs; empty where no LSM labels sockets.
base::Result<std::string> socket_peer_label(int fd) noexcept;

// Why a connection frozen as recorded_label cannot be adopted by a bus
// that mediates with an LSM and would see it as mediated_as (its own
// socket's label); empty if it can.  Trailing NULs do not count.
std::string adoption_label_problem(std::string_view recorded_label, std::string_view mediated_as);

} // namespace dbus_checkpoint::record
