// SPDX-License-Identifier: GPL-2.0-or-later
// A bus client on a bare socket, for what no client library does: resume
// a connection on a new socket (Reattach), look at the exact bytes of the
// stream, write half a message.  A thin test wrapper over the production
// module checkpoint/raw-bus (the CRIU plugin's own client): the same
// socket, handshake and framing, but failures throw.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <dbus/dbus.h>

#include "raw-bus/raw_bus.hpp"

namespace dcp::test {

using Message = dbus_checkpoint::raw_bus::Message;

Message new_bus_call(const char *interface, const char *member);
// m's bytes on the wire, with that serial.
std::string marshal(DBusMessage *m, std::uint32_t serial);

class RawBusSocket {
 public:
  explicit RawBusSocket(const std::string &socket_path);
  RawBusSocket(const RawBusSocket &) = delete;
  RawBusSocket &operator=(const RawBusSocket &) = delete;

  // SASL EXTERNAL as our uid; no Unix fd negotiation.
  void authenticate();
  // Hello; returns the unique name.
  std::string hello();

  std::uint32_t send(DBusMessage *m);   // with the next serial; returns it
  void send_bytes(const std::string &bytes);
  // The next whole message, read exactly (no byte of the next one).
  Message receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The reply to serial, skipping (and dropping) other messages.
  Message call(DBusMessage *m, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::string read_exactly(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Bytes the bus has sent that are still in the socket, left in place
  // (MSG_PEEK), as the CRIU plugin takes them.
  std::string peek_unread();
  std::size_t bytes_in_socket() const;
  void close() { socket_.reset(); }
  int fd() const { return socket_.get(); }

 private:
  dbus_checkpoint::raw_bus::UniqueFd socket_;
  std::uint32_t next_serial_ = 1;
};

} // namespace dcp::test
