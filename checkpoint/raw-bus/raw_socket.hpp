// SPDX-License-Identifier: GPL-2.0-or-later
// A bus client's socket at the byte level, for what no client library
// does: continue a connection on a new socket (Reattach instead of Hello),
// take the exact bytes a client had not read, read exactly one message and
// not a byte more (the socket then goes to another owner, the restored
// process, whose stream must continue at the next byte).
//
// This part needs no client library (the CRIU plugin's restore path
// links nothing else): the socket, the SASL handshake, the framing, and
// reading the one header field a reply is known by.  Messages are built
// and parsed with libdbus in raw_bus.hpp.  Every function returns a Status
// (never throws): an errno-style code for callers that must return one
// (the CRIU plugin) and a sentence for logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

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
// A new socket to the bus at socket_path that sends `first_message` (with
// no Hello: Reattach) after the handshake and reads exactly the one
// message that answers it: what follows on the socket is its next owner's.
base::Status send_first_message(const std::string &socket_path, std::string_view first_message,
                                Deadline deadline, UniqueFd &socket_out, std::string &answer_out);
// Bytes waiting in the socket's receive queue (SIOCINQ).
base::Status bytes_in_socket(int fd, std::size_t &n_out);
// Those bytes, left in place (MSG_PEEK): what the bus sent and the client
// had not read.
base::Status peek_unread(int fd, std::string &bytes_out);

// The length of the whole message that starts with this fixed header (its
// first kFixedHeaderLength bytes), or 0 if they cannot start a message.
inline constexpr std::size_t kFixedHeaderLength = 16;
inline constexpr char kMajorProtocolVersion = 1;
std::size_t message_length(std::string_view fixed_header);

// What a whole message (read_message's) is: its type (1 call, 2 method
// return, 3 error, 4 signal) and its REPLY_SERIAL header field (0 when it
// has none).  EPROTO for header fields that do not parse.
struct MessageKind {
  int type = 0;
  std::uint32_t reply_serial = 0;
};
base::Status read_message_kind(std::string_view message, MessageKind &kind_out);

} // namespace dbus_checkpoint::raw_bus
