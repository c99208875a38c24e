// SPDX-License-Identifier: GPL-2.0-or-later
// The messages sent on a raw bus socket (raw_socket.hpp), built and parsed
// with libdbus: the Reattach call, a call to the bus driver, a reply's
// error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <dbus/dbus.h>

#include "raw-bus/raw_socket.hpp"

namespace dbus_checkpoint::raw_bus {

// ---- Messages (libdbus) ------------------------------------------------

struct MessageUnref {
  void operator()(DBusMessage *m) const noexcept { dbus_message_unref(m); }
};
using Message = std::unique_ptr<DBusMessage, MessageUnref>;

// A call to the bus driver (org.freedesktop.DBus); null when out of memory.
Message new_bus_call(const char *interface, const char *member);
// org.freedesktop.DBus.Checkpoint.Reattach(id, {"Unread": <unread>}); null
// when out of memory.
// Reattach(id, {"Unread": ay, "Secret": s}); no "Secret" if `secret` is empty.
Message new_reattach_call(const std::string &checkpoint_id, std::string_view unread,
                          const std::string &secret);
// m's bytes on the wire, with that serial.
base::Status marshal(DBusMessage *m, std::uint32_t serial, std::string &bytes_out);
base::Status demarshal(std::string_view bytes, Message &message_out);
// For a reply to serial: success if it is a method return, otherwise a
// failure naming the D-Bus error and its message.
base::Status check_method_return(DBusMessage *reply, std::uint32_t serial);

} // namespace dbus_checkpoint::raw_bus
