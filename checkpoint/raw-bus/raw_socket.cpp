// SPDX-License-Identifier: GPL-2.0-or-later
#include "raw-bus/raw_socket.hpp"

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
  if ((endianness != 'l' && endianness != 'B') || fixed_header[3] != kMajorProtocolVersion)
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

Status send_first_message(const std::string &socket_path, std::string_view first_message,
                          Deadline deadline, UniqueFd &socket_out, std::string &answer_out)
{
  UniqueFd socket;
  Status s = connect_unix_stream(socket_path, socket);
  if (s)
    s = authenticate_external(socket.get(), deadline);
  if (s)
    s = send_all(socket.get(), first_message);
  if (s)
    s = read_message(socket.get(), deadline, answer_out);
  if (s)
    socket_out = std::move(socket);
  return s;
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

Status read_message_kind(std::string_view message, MessageKind &kind_out)
{
  // The specification's header field codes and the one we want.
  constexpr unsigned char kReplySerialField = 5;
  if (message_length(message) == 0 || message_length(message) > message.size())
    return failure(EPROTO, "not a whole D-Bus message");
  const bool little = message[0] == 'l';
  const std::size_t fields_end = kFixedHeaderLength + read_uint32(message.data() + 12, little);
  MessageKind kind;
  kind.type = static_cast<unsigned char>(message[1]);
  // Each field is a STRUCT (BYTE code, VARIANT value), 8-aligned; its
  // value is one of the basic types the specification allows there.
  const auto bad = [] { return failure(EPROTO, "the bus sent a message whose header fields do not parse"); };
  std::size_t at = kFixedHeaderLength;
  const auto align = [&](std::size_t to) { at = (at + to - 1) & ~(to - 1); };
  while (at < fields_end) {
    align(8);
    if (at + 3 > fields_end)
      return bad();
    const auto code = static_cast<unsigned char>(message[at]);
    const auto signature_length = static_cast<unsigned char>(message[at + 1]);
    if (signature_length != 1 || at + 4 > fields_end)
      return bad();
    const char type = message[at + 2];
    at += 4;  // code, length, type, nul
    if (type == 'g') {
      if (at >= fields_end)
        return bad();
      at += 1 + static_cast<unsigned char>(message[at]) + 1;
    } else {
      align(4);
      if (at + 4 > fields_end)
        return bad();
      const std::uint32_t value = read_uint32(message.data() + at, little);
      at += 4;
      if (type == 's' || type == 'o')
        at += std::size_t(value) + 1;
      else if (type == 'u' && code == kReplySerialField)
        kind.reply_serial = value;
      else if (type != 'u' && type != 'h')
        return bad();
    }
    if (at > fields_end)
      return bad();
  }
  kind_out = kind;
  return {};
}

} // namespace dbus_checkpoint::raw_bus
