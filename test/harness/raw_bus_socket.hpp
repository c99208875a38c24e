// A bus client on a bare socket, for what no client library does: resume
// a connection on a new socket (Reattach), look at the exact bytes of the
// stream, write half a message.  Messages are built and parsed with
// libdbus; the socket, the handshake and the framing are ours.  Test-only:
// failures throw.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <dbus/dbus.h>

namespace dcp::test {

struct DBusMessageUnref {
  void operator()(DBusMessage *m) const { dbus_message_unref(m); }
};
using Message = std::unique_ptr<DBusMessage, DBusMessageUnref>;

Message new_bus_call(const char *interface, const char *member);
// m's bytes on the wire, with that serial.
std::string marshal(DBusMessage *m, std::uint32_t serial);

class RawBusSocket {
 public:
  explicit RawBusSocket(const std::string &socket_path);
  RawBusSocket(const RawBusSocket &) = delete;
  RawBusSocket &operator=(const RawBusSocket &) = delete;
  ~RawBusSocket();

  // SASL EXTERNAL as our uid; no Unix fd negotiation.
  void authenticate();
  // Hello; returns the unique name.
  std::string hello();

  std::uint32_t send(DBusMessage *m);   // with the next serial; returns it
  void send_bytes(const std::string &bytes);
  // The next whole message (from what was read already, then the socket).
  Message receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The reply to serial, skipping (and dropping) other messages.
  Message call(DBusMessage *m, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::string read_exactly(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Bytes the bus has sent that are still in the socket, left in place
  // (MSG_PEEK), as the CRIU plugin takes them.
  std::string peek_unread();
  std::size_t bytes_in_socket() const;
  void close();
  int fd() const { return fd_; }

 private:
  void fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::uint32_t next_serial_ = 1;
  std::string buffered_;
};

} // namespace dcp::test
