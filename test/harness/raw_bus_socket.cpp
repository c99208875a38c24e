#include "raw_bus_socket.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dcp::test {
namespace {

[[noreturn]] void fail(const std::string &what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(std::chrono::steady_clock::time_point deadline)
{
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

} // namespace

Message new_bus_call(const char *interface, const char *member)
{
  return Message(dbus_message_new_method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              interface, member));
}

std::string marshal(DBusMessage *m, std::uint32_t serial)
{
  dbus_message_set_serial(m, serial);
  char *bytes = nullptr;
  int n = 0;
  if (!dbus_message_marshal(m, &bytes, &n))
    throw std::runtime_error("dbus_message_marshal failed");
  std::string out(bytes, static_cast<size_t>(n));
  dbus_free(bytes);
  return out;
}

RawBusSocket::RawBusSocket(const std::string &socket_path)
{
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    fail("socket");
  struct sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd_, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) < 0)
    fail("connect " + socket_path);
}

RawBusSocket::~RawBusSocket() { close(); }

void RawBusSocket::close()
{
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

void RawBusSocket::send_bytes(const std::string &bytes)
{
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      fail("send");
    written += static_cast<size_t>(n);
  }
}

void RawBusSocket::fill(std::chrono::steady_clock::time_point deadline)
{
  struct pollfd pfd = {fd_, POLLIN, 0};
  int r = poll(&pfd, 1, remaining_ms(deadline));
  if (r < 0 && errno != EINTR)
    fail("poll");
  if (r <= 0)
    throw std::runtime_error("timed out reading from the bus");
  char chunk[65536];
  ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
  if (n < 0)
    fail("recv");
  if (n == 0)
    throw std::runtime_error("the bus closed the socket");
  buffered_.append(chunk, static_cast<size_t>(n));
}

std::string RawBusSocket::read_exactly(std::size_t n, std::chrono::milliseconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffered_.size() < n)
    fill(deadline);
  std::string out = buffered_.substr(0, n);
  buffered_.erase(0, n);
  return out;
}

void RawBusSocket::authenticate()
{
  std::string uid = std::to_string(getuid());
  std::string hex;
  for (char c : uid) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", static_cast<unsigned char>(c));
    hex += pair;
  }
  send_bytes(std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (buffered_.find("\r\n") == std::string::npos)
    fill(deadline);
  auto end = buffered_.find("\r\n");
  std::string answer = buffered_.substr(0, end);
  buffered_.erase(0, end + 2);
  if (answer.rfind("OK ", 0) != 0)
    throw std::runtime_error("authentication refused: " + answer);
  send_bytes("BEGIN\r\n");
}

std::uint32_t RawBusSocket::send(DBusMessage *m)
{
  std::uint32_t serial = next_serial_++;
  send_bytes(marshal(m, serial));
  return serial;
}

Message RawBusSocket::receive(std::chrono::milliseconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffered_.size() < 16)
    fill(deadline);
  int needed = dbus_message_demarshal_bytes_needed(buffered_.data(),
                                                   static_cast<int>(buffered_.size()));
  if (needed <= 0)
    throw std::runtime_error("not a D-Bus message on the socket");
  while (buffered_.size() < static_cast<size_t>(needed))
    fill(deadline);
  DBusError error = DBUS_ERROR_INIT;
  DBusMessage *m = dbus_message_demarshal(buffered_.data(), needed, &error);
  if (m == nullptr) {
    std::string why = error.message ? error.message : "?";
    dbus_error_free(&error);
    throw std::runtime_error("cannot parse a message from the bus: " + why);
  }
  buffered_.erase(0, static_cast<size_t>(needed));
  return Message(m);
}

Message RawBusSocket::call(DBusMessage *m, std::chrono::milliseconds timeout)
{
  std::uint32_t serial = send(m);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Message reply = receive(std::chrono::milliseconds(remaining_ms(deadline)));
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
  int n = 0;
  if (ioctl(fd_, FIONREAD, &n) < 0)
    fail("FIONREAD");
  return static_cast<size_t>(n);
}

std::string RawBusSocket::peek_unread()
{
  std::string out;
  int n = 0;
  if (ioctl(fd_, FIONREAD, &n) < 0)
    fail("FIONREAD");
  if (n > 0) {
    std::string queued(static_cast<size_t>(n), '\0');
    ssize_t got = recv(fd_, queued.data(), queued.size(), MSG_PEEK | MSG_DONTWAIT);
    if (got < 0)
      fail("recv MSG_PEEK");
    out.append(queued, 0, static_cast<size_t>(got));
  }
  return out;
}

} // namespace dcp::test
