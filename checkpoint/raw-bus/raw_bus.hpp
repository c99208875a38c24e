// SPDX-License-Identifier: GPL-2.0-or-later
// A bus client's socket at the byte level, for what no client library
// does: continue a connection on a new socket (Reattach instead of Hello),
// take the exact bytes a client had not read, read exactly one message and
// not a byte more (the socket then goes to another owner, the restored
// process, whose stream must continue at the next byte).
//
// Messages are built and parsed with libdbus; the socket, the SASL
// handshake and the framing are ours.  Every function returns a Status
// (never throws): an errno-style code for callers that must return one
// (the CRIU plugin) and a sentence for logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <dbus/dbus.h>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace dbus_checkpoint::raw_bus {

using base::UniqueFd;
using Deadline = std::chrono::steady_clock::time_point;

// ---- The socket ----------------------------------------------------------

// A connected AF_UNIX stream socket (close-on-exec, blocking).
base::Status connect_unix_stream(const std::string &socket_path, UniqueFd &socket_out);
base::Status send_all(int fd, std::string_view bytes);
// Appends exactly n bytes to out, waiting for them until the deadline.
base::Status read_exactly(int fd, std::size_t n, Deadline deadline, std::string &out);
// SASL EXTERNAL as our uid, then BEGIN.  No Unix fd negotiation: the bus
// keeps what the frozen connection had negotiated.  Reads the server's
// answer line and nothing after it.
base::Status authenticate_external(int fd, Deadline deadline);
// Replaces message_out with the bytes of exactly one whole message.
base::Status read_message(int fd, Deadline deadline, std::string &message_out);
// Bytes waiting in the socket's receive queue (SIOCINQ).
base::Status bytes_in_socket(int fd, std::size_t &n_out);
// Those bytes, left in place (MSG_PEEK): what the bus sent and the client
// had not read.
base::Status peek_unread(int fd, std::string &bytes_out);

// The length of the whole message that starts with this fixed header (its
// first kFixedHeaderLength bytes), or 0 if they cannot start a message.
inline constexpr std::size_t kFixedHeaderLength = 16;
std::size_t message_length(std::string_view fixed_header);

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
