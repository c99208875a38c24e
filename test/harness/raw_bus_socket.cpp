// SPDX-License-Identifier: GPL-2.0-or-later
#include "raw_bus_socket.hpp"

#include <stdexcept>

namespace dcp::test {
namespace raw_bus = dbus_checkpoint::raw_bus;
namespace {

void require(const dbus_checkpoint::base::Status &status)
{
  if (!status)
    throw std::runtime_error(status.error().describe());
}

raw_bus::Deadline deadline_in(std::chrono::milliseconds timeout)
{
  return std::chrono::steady_clock::now() + timeout;
}

} // namespace

Message new_bus_call(const char *interface, const char *member)
{
  Message m = raw_bus::new_bus_call(interface, member);
  if (!m)
    throw std::bad_alloc();
  return m;
}

std::string marshal(DBusMessage *m, std::uint32_t serial)
{
  std::string bytes;
  require(raw_bus::marshal(m, serial, bytes));
  return bytes;
}

RawBusSocket::RawBusSocket(const std::string &socket_path)
{
  require(raw_bus::connect_unix_stream(socket_path, socket_));
}

void RawBusSocket::send_bytes(const std::string &bytes) { require(raw_bus::send_all(fd(), bytes)); }

std::string RawBusSocket::read_exactly(std::size_t n, std::chrono::milliseconds timeout)
{
  std::string out;
  require(raw_bus::read_exactly(fd(), n, deadline_in(timeout), out));
  return out;
}

void RawBusSocket::authenticate()
{
  require(raw_bus::authenticate_external(fd(), deadline_in(std::chrono::seconds(5))));
}

std::uint32_t RawBusSocket::send(DBusMessage *m)
{
  std::uint32_t serial = next_serial_++;
  send_bytes(marshal(m, serial));
  return serial;
}

Message RawBusSocket::receive(std::chrono::milliseconds timeout)
{
  std::string bytes;
  require(raw_bus::read_message(fd(), deadline_in(timeout), bytes));
  Message m;
  require(raw_bus::demarshal(bytes, m));
  return m;
}

Message RawBusSocket::call(DBusMessage *m, std::chrono::milliseconds timeout)
{
  std::uint32_t serial = send(m);
  auto deadline = deadline_in(timeout);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    Message reply = receive(std::max(left, std::chrono::milliseconds(0)));
    if (dbus_message_get_reply_serial(reply.get()) == serial)
      return reply;
  }
}

std::string RawBusSocket::hello()
{
  Message hello = new_bus_call("org.freedesktop.DBus", "Hello");
  Message reply = call(hello.get());
  const char *name = nullptr;
  if (!dbus_message_get_args(reply.get(), nullptr, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID))
    throw std::runtime_error("Hello: no unique name in the reply");
  return name;
}

std::size_t RawBusSocket::bytes_in_socket() const
{
  std::size_t n = 0;
  require(raw_bus::bytes_in_socket(fd(), n));
  return n;
}

std::string RawBusSocket::peek_unread()
{
  std::string bytes;
  require(raw_bus::peek_unread(fd(), bytes));
  return bytes;
}

} // namespace dcp::test
