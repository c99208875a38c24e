// SPDX-License-Identifier: GPL-2.0-or-later
#include "raw-bus/raw_bus.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dbus_checkpoint::raw_bus {

using base::errno_error;
using base::Error;
using base::failure;
using base::Status;

namespace {

// The D-Bus specification's limits: a message is at most 128 MiB, an
// array (the header fields are one) at most 64 MiB.
constexpr std::uint64_t kMaxMessageLength = 128u << 20;
constexpr std::uint64_t kMaxArrayLength = 64u << 20;
// A SASL line longer than this is not from a D-Bus server.
constexpr std::size_t kMaxAuthLineLength = 16384;

int remaining_ms(Deadline deadline)
{
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Success once fd is readable (data or end of stream).
Status wait_readable(int fd, Deadline deadline)
{
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, remaining_ms(deadline));
    if (r > 0)
      return {};
    if (r == 0)
      return failure(ETIMEDOUT, "timed out waiting for the bus");
    if (errno != EINTR)
      return errno_error("poll");
  }
}

std::uint32_t read_uint32(const char *bytes, bool little_endian)
{
  const auto *b = reinterpret_cast<const unsigned char *>(bytes);
  if (little_endian)
    return b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  return (std::uint32_t(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
}

std::string hex_of(std::string_view text)
{
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : text) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  return hex;
}

// One CRLF-terminated line of the handshake, without the CRLF.  Byte by
// byte: the line is short, and nothing after it may be consumed.
Status read_auth_line(int fd, Deadline deadline, std::string &line)
{
  std::string raw;
  while (raw.size() < 2 || raw.compare(raw.size() - 2, 2, "\r\n") != 0) {
    if (raw.size() > kMaxAuthLineLength)
      return failure(EPROTO, "the bus sent an overlong authentication line");
    if (Status s = read_exactly(fd, 1, deadline, raw); !s)
      return s;
  }
  line = raw.substr(0, raw.size() - 2);
  return {};
}

} // namespace

Status connect_unix_stream(const std::string &socket_path, UniqueFd &socket_out)
{
  struct sockaddr_un address{};
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path)
    return failure(ENAMETOOLONG, "not a usable socket path: \"" + socket_path + "\"");
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return errno_error("socket");
  while (connect(fd.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) < 0) {
    if (errno != EINTR)
      return errno_error("connect to " + socket_path);
  }
  socket_out = std::move(fd);
  return {};
}

Status send_all(int fd, std::string_view bytes)
{
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno_error("send to the bus");
    written += static_cast<std::size_t>(n);
  }
  return {};
}

Status read_exactly(int fd, std::size_t n, Deadline deadline, std::string &out)
{
  std::size_t wanted = out.size() + n;
  while (out.size() < wanted) {
    if (Status s = wait_readable(fd, deadline); !s)
      return s;
    std::size_t have = out.size();
    out.resize(wanted);
    ssize_t got = recv(fd, out.data() + have, wanted - have, MSG_DONTWAIT);
    out.resize(have + (got > 0 ? static_cast<std::size_t>(got) : 0));
    if (got == 0)
      return failure(ECONNRESET, "the bus closed the socket");
    if (got < 0 && errno != EINTR && errno != EAGAIN)
      return errno_error("recv from the bus");
  }
  return {};
}

Status authenticate_external(int fd, Deadline deadline)
{
  std::string request = std::string(1, '\0') + "AUTH EXTERNAL " +
                        hex_of(std::to_string(getuid())) + "\r\n";
  if (Status s = send_all(fd, request); !s)
    return s;
  std::string answer;
  if (Status s = read_auth_line(fd, deadline, answer); !s)
    return s;
  if (answer.rfind("OK ", 0) != 0)
    return failure(answer.rfind("REJECTED", 0) == 0 ? EACCES : EPROTO,
                   "the bus refused authentication: \"" + answer + "\"");
  return send_all(fd, "BEGIN\r\n");
}

std::size_t message_length(std::string_view fixed_header)
{
  if (fixed_header.size() < kFixedHeaderLength)
    return 0;
  const char endianness = fixed_header[0];
  if ((endianness != 'l' && endianness != 'B') || fixed_header[3] != DBUS_MAJOR_PROTOCOL_VERSION)
    return 0;
  const bool little = endianness == 'l';
  std::uint64_t body_length = read_uint32(fixed_header.data() + 4, little);
  std::uint64_t fields_length = read_uint32(fixed_header.data() + 12, little);
  if (fields_length > kMaxArrayLength)
    return 0;
  std::uint64_t total = kFixedHeaderLength + ((fields_length + 7) & ~std::uint64_t(7)) + body_length;
  return total > kMaxMessageLength ? 0 : static_cast<std::size_t>(total);
}

Status read_message(int fd, Deadline deadline, std::string &message_out)
{
  message_out.clear();
  if (Status s = read_exactly(fd, kFixedHeaderLength, deadline, message_out); !s)
    return s;
  std::size_t total = message_length(message_out);
  if (total == 0)
    return failure(EPROTO, "the bus sent bytes that do not start a D-Bus message");
  return read_exactly(fd, total - kFixedHeaderLength, deadline, message_out);
}

Status bytes_in_socket(int fd, std::size_t &n_out)
{
  int n = 0;
  if (ioctl(fd, SIOCINQ, &n) < 0)
    return errno_error("SIOCINQ");
  n_out = static_cast<std::size_t>(n);
  return {};
}

Status peek_unread(int fd, std::string &bytes_out)
{
  bytes_out.clear();
  std::size_t queued = 0;
  if (Status s = bytes_in_socket(fd, queued); !s || queued == 0)
    return s;
  bytes_out.resize(queued);
  ssize_t got = recv(fd, bytes_out.data(), queued, MSG_PEEK | MSG_DONTWAIT);
  if (got < 0)
    return errno_error("recv MSG_PEEK");
  bytes_out.resize(static_cast<std::size_t>(got));
  return {};
}

Message new_bus_call(const char *interface, const char *member)
{
  return Message(dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, interface, member));
}

Message new_reattach_call(const std::string &checkpoint_id, std::string_view unread,
                          const std::string &secret)
{
  Message m = new_bus_call("org.freedesktop.DBus.Checkpoint", "Reattach");
  if (!m)
    return m;
  DBusMessageIter args, options, entry, variant, bytes;
  const char *id = checkpoint_id.c_str();
  const char *key = "Unread";
  const char *data = unread.data();
  dbus_message_iter_init_append(m.get(), &args);
  bool built =
      dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &id) &&
      dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &options) &&
      dbus_message_iter_open_container(&options, DBUS_TYPE_DICT_ENTRY, nullptr, &entry) &&
      dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
      dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "ay", &variant) &&
      dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, "y", &bytes) &&
      dbus_message_iter_append_fixed_array(&bytes, DBUS_TYPE_BYTE, &data,
                                           static_cast<int>(unread.size())) &&
      dbus_message_iter_close_container(&variant, &bytes) &&
      dbus_message_iter_close_container(&entry, &variant) &&
      dbus_message_iter_close_container(&options, &entry);
  const char *secret_key = "Secret";
  const char *secret_value = secret.c_str();
  if (built && !secret.empty())
    built = dbus_message_iter_open_container(&options, DBUS_TYPE_DICT_ENTRY, nullptr, &entry) &&
            dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &secret_key) &&
            dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &variant) &&
            dbus_message_iter_append_basic(&variant, DBUS_TYPE_STRING, &secret_value) &&
            dbus_message_iter_close_container(&entry, &variant) &&
            dbus_message_iter_close_container(&options, &entry);
  built = built && dbus_message_iter_close_container(&args, &options);
  // A failed append leaves containers open; the message is unusable anyway.
  return built ? std::move(m) : Message();
}

Status marshal(DBusMessage *m, std::uint32_t serial, std::string &bytes_out)
{
  dbus_message_set_serial(m, serial);
  char *bytes = nullptr;
  int n = 0;
  if (!dbus_message_marshal(m, &bytes, &n))
    return failure(ENOMEM, "dbus_message_marshal: out of memory");
  std::unique_ptr<char, decltype(&dbus_free)> owned(bytes, &dbus_free);
  bytes_out.assign(bytes, static_cast<std::size_t>(n));
  return {};
}

Status demarshal(std::string_view bytes, Message &message_out)
{
  DBusError error = DBUS_ERROR_INIT;
  DBusMessage *m = dbus_message_demarshal(bytes.data(), static_cast<int>(bytes.size()), &error);
  if (m == nullptr) {
    std::string why = error.message ? error.message : "out of memory";
    dbus_error_free(&error);
    return failure(EPROTO, "cannot parse a message from the bus: " + why);
  }
  message_out.reset(m);
  return {};
}

Status check_method_return(DBusMessage *reply, std::uint32_t serial)
{
  if (dbus_message_get_reply_serial(reply) != serial)
    return failure(EPROTO, "the bus answered something else than call " + std::to_string(serial));
  int type = dbus_message_get_type(reply);
  if (type == DBUS_MESSAGE_TYPE_METHOD_RETURN)
    return {};
  if (type != DBUS_MESSAGE_TYPE_ERROR)
    return failure(EPROTO, "the bus answered call " + std::to_string(serial) +
                               " with a message of type " + std::to_string(type));
  const char *text = nullptr;
  DBusError ignored = DBUS_ERROR_INIT;
  if (!dbus_message_get_args(reply, &ignored, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID))
    text = "";
  dbus_error_free(&ignored);
  const std::string name = dbus_message_get_error_name(reply);
  return Error{name, text, name == DBUS_ERROR_ACCESS_DENIED ? EACCES : EIO};
}

} // namespace dbus_checkpoint::raw_bus
