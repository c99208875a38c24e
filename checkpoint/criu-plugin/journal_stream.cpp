// SPDX-License-Identifier: GPL-2.0-or-later
#include "journal_stream.hpp"

#include "base/files.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>
#include <chrono>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

#include "bus_socket.hpp"
#include "image_files.hpp"
#include "plugin_log.hpp"

namespace dbus_checkpoint::criu_plugin {
namespace {

using Clock = std::chrono::steady_clock;

// journald reads header lines of at most 254 bytes (a unit name's length).
constexpr std::size_t kMaxHeaderLine = 254;
// systemd gives a service's journal stream an 8 MiB send buffer.
constexpr int kStreamSendBuffer = 8 * 1024 * 1024;
// Our image file of a datagram socket: this key and the path, alone.
constexpr std::string_view kDatagramKey = "DATAGRAM";
// The image of a stream whose journald end was closed before the dump
// (journald stopped, which lets go of its streams): restored as closed.
constexpr std::string_view kClosedStreamLine = "CLOSED_STREAM=1\n";

std::string stream_name(std::uint32_t socket_inode)
{
  return "journal stream (socket " + std::to_string(socket_inode) + ")";
}

// Two hex digits at text[at], or -1.
int hex_byte(std::string_view text, std::size_t at)
{
  if (at + 2 > text.size() || !std::isxdigit(static_cast<unsigned char>(text[at])) ||
      !std::isxdigit(static_cast<unsigned char>(text[at + 1])))
    return -1;
  int value = 0;
  std::from_chars(text.data() + at, text.data() + at + 2, value, 16);
  return value;
}

// A value journald wrote with cescape(): \a \b \f \n \r \t \v \\ \" \'
// \xHH and three octal digits.
std::optional<std::string> c_unescape(std::string_view text)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size())
      return std::nullopt;
    switch (char c = text[i]) {
    case 'a': out += '\a'; break;
    case 'b': out += '\b'; break;
    case 'f': out += '\f'; break;
    case 'n': out += '\n'; break;
    case 'r': out += '\r'; break;
    case 't': out += '\t'; break;
    case 'v': out += '\v'; break;
    case '\\': case '"': case '\'': out += c; break;
    case 'x': {
      const int byte = hex_byte(text, i + 1);
      if (byte < 0)
        return std::nullopt;
      out += static_cast<char>(byte);
      i += 2;
      break;
    }
    default: {
      if (c < '0' || c > '3' || i + 2 >= text.size())
        return std::nullopt;
      int value = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        char digit = text[i + k];
        if (digit < '0' || digit > '7')
          return std::nullopt;
        value = value * 8 + (digit - '0');
      }
      out += static_cast<char>(value);
      i += 2;
    }
    }
  }
  return out;
}

std::optional<int> parse_int(std::string_view text)
{
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

// journald's booleans as it writes them (%i); also what parse_boolean
// takes most often.
std::optional<bool> parse_flag(std::string_view text)
{
  if (text == "1" || text == "yes" || text == "true")
    return true;
  if (text == "0" || text == "no" || text == "false")
    return false;
  return std::nullopt;
}

bool usable_header_value(std::string_view value)
{
  return value.size() <= kMaxHeaderLine && value.find_first_of(std::string_view("\n\0", 2)) == std::string_view::npos;
}

// Both formats: KEY=VALUE lines, '#' comments; `unescape` for journald's.
Status parse_stream_lines(std::string_view text, bool unescape, const std::string &source,
                          JournalStream &stream_out)
{
  JournalStream stream;
  bool have_priority = false;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty() || line.front() == '#')
      continue;
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos)
      return base::failure(EINVAL, source + ": a line without '='");
    std::string_view key = line.substr(0, equals), raw_value = line.substr(equals + 1);
    std::optional<std::string> value = unescape ? c_unescape(raw_value) : std::string(raw_value);
    if (!value)
      return base::failure(EINVAL, source + ": bad escape in " + std::string(key));
    auto flag = [&](bool &field) -> Status {
      std::optional<bool> parsed = parse_flag(*value);
      if (!parsed)
        return base::failure(EINVAL, source + ": " + std::string(key) + " is not 0 or 1");
      field = *parsed;
      return {};
    };
    Status s;
    if (key == "PRIORITY") {
      std::optional<int> priority = parse_int(*value);
      if (!priority || *priority < 0 || *priority > 999)
        return base::failure(EINVAL, source + ": PRIORITY is not 0..999");
      stream.priority = *priority;
      have_priority = true;
    } else if (key == "LEVEL_PREFIX") {
      s = flag(stream.level_prefix);
    } else if (key == "FORWARD_TO_SYSLOG") {
      s = flag(stream.forward_to_syslog);
    } else if (key == "FORWARD_TO_KMSG") {
      s = flag(stream.forward_to_kmsg);
    } else if (key == "FORWARD_TO_CONSOLE") {
      s = flag(stream.forward_to_console);
    } else if (key == "IDENTIFIER") {
      stream.identifier = std::move(*value);
    } else if (key == "UNIT") {
      stream.unit_id = std::move(*value);
    }  // STREAM_ID and what journald may add later: not part of the header
    if (!s)
      return s;
  }
  if (!have_priority)
    return base::failure(EINVAL, source + ": no PRIORITY");
  if (!usable_header_value(stream.identifier) || !usable_header_value(stream.unit_id))
    return base::failure(EINVAL, source + ": IDENTIFIER or UNIT cannot be sent as a header line");
  stream_out = std::move(stream);
  return {};
}

std::string journal_stream_file(const JournalPaths &paths, dev_t device, std::uint32_t inode)
{
  // journald names it by st_dev and st_ino of its end, as unsigned longs.
  return paths.streams_dir + "/" + std::to_string(static_cast<unsigned long>(device)) + ":" +
         std::to_string(static_cast<unsigned long>(inode));
}

Status read_small_file(const std::string &path, std::string &text_out)
{
  raw_bus::UniqueFd file(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file)
    return base::errno_error("open " + path);
  if (std::error_code error = base::read_at_most(file.get(), 65536, text_out))
    return base::errno_error("read " + path, error.value());
  if (text_out.size() > 65536)
    return base::failure(EFBIG, path + " is too large for a stream record");
  return {};
}

// What a restore says when journald does not answer at `what`.
Status journald_absent(const Status &connect_failure, const std::string &what)
{
  const bool absent = connect_failure.error().errno_value == ENOENT ||
                      connect_failure.error().errno_value == ECONNREFUSED;
  return base::failure(connect_failure.error().errno_value,
                          what + ", but " + connect_failure.error().message +
                              (absent ? ": systemd-journald is not running here; start it "
                                        "(systemctl start systemd-journald) and restore again"
                                      : ""));
}

// DATAGRAM=PATH's socket again: only to one of journald's datagram sockets.
Status reconnect_datagram(std::string path, const JournalPaths &paths, raw_bus::UniqueFd &socket_out)
{
  while (!path.empty() && path.back() == '\n')
    path.pop_back();
  if (path != paths.syslog_socket && path != paths.native_socket)
    return base::failure(EPERM, "the journal socket's image file names " + path +
                                       ", not one of journald's datagram sockets");
  struct sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path)
    return base::failure(ENAMETOOLONG, "socket path too long: " + path);
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  raw_bus::UniqueFd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket)
    return base::errno_error("socket(AF_UNIX, SOCK_DGRAM)");
  while (connect(socket.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) < 0)
    if (errno != EINTR)
      return journald_absent(base::errno_error("connect to " + path),
                             "the service logged to the journal through " + path);
  socket_out = std::move(socket);
  return {};
}

} // namespace

Status parse_journald_stream_file(std::string_view text, JournalStream &stream_out)
{
  return parse_stream_lines(text, true, "journald's stream file", stream_out);
}

Status parse_stream_image(std::string_view text, JournalStream &stream_out)
{
  return parse_stream_lines(text, false, "the journal stream's image file", stream_out);
}

Status format_stream_image(const JournalStream &stream, std::string &text_out)
{
  if (!usable_header_value(stream.identifier) || !usable_header_value(stream.unit_id))
    return base::failure(EINVAL, "the stream's identifier or unit cannot be sent as a header line");
  text_out = "# dbus-checkpoint: the journal stream of a dumped task's stdout/stderr\n";
  text_out += "PRIORITY=" + std::to_string(stream.priority) + "\n";
  text_out += "LEVEL_PREFIX=" + std::to_string(int{stream.level_prefix}) + "\n";
  text_out += "FORWARD_TO_SYSLOG=" + std::to_string(int{stream.forward_to_syslog}) + "\n";
  text_out += "FORWARD_TO_KMSG=" + std::to_string(int{stream.forward_to_kmsg}) + "\n";
  text_out += "FORWARD_TO_CONSOLE=" + std::to_string(int{stream.forward_to_console}) + "\n";
  text_out += "IDENTIFIER=" + stream.identifier + "\n";
  text_out += "UNIT=" + stream.unit_id + "\n";
  return {};
}

std::string stream_header(const JournalStream &stream)
{
  // identifier, unit id, priority, level prefix, forward to syslog, kmsg,
  // console: one per line, as systemd's executor sends them.
  return stream.identifier + "\n" + stream.unit_id + "\n" + std::to_string(stream.priority) + "\n" +
         std::to_string(int{stream.level_prefix}) + "\n" + std::to_string(int{stream.forward_to_syslog}) +
         "\n" + std::to_string(int{stream.forward_to_kmsg}) + "\n" +
         std::to_string(int{stream.forward_to_console}) + "\n";
}

std::string journal_datagram_peer(int fd, const JournalPaths &paths)
{
  int type = 0;
  socklen_t length = sizeof type;
  std::string peer;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0 || type != SOCK_DGRAM ||
      !peer_socket_path(fd, peer) || peer.empty())
    return "";
  for (const std::string *known : {&paths.syslog_socket, &paths.native_socket})
    if (is_bus_socket(peer, {*known}))
      return *known;
  return "";
}

bool is_journal_stream(int fd, const JournalPaths &paths)
{
  std::string peer;
  if (!peer_socket_path(fd, peer) || peer.empty())
    return false;
  return is_bus_socket(peer, {paths.stdout_socket});
}

Status save_journal_stream(int fd, std::uint32_t socket_inode, int images_dir,
                           const JournalPaths &paths, JournalStream &stream_out)
{
  struct stat socket_status{};
  if (fstat(fd, &socket_status) < 0)
    return base::errno_error("stat the " + stream_name(socket_inode));
  std::uint32_t journald_end = 0;
  if (Status s = peer_socket_inode(fd, socket_inode, journald_end); !s)
    return s;
  if (journald_end == 0) {  // no peer any more
    stream_out = JournalStream{};
    stream_out.closed = true;
    return write_image_file(images_dir, journal_file_name(socket_inode), std::string(kClosedStreamLine));
  }
  const std::string state_file = journal_stream_file(paths, socket_status.st_dev, journald_end);
  std::string text;
  if (Status s = read_small_file(state_file, text); !s)
    return base::failure(s.error().errno_value,
                            "journald's record of the " + stream_name(socket_inode) + ": " + s.error().message +
                                " (journald writes it once the stream's header is read)");
  if (Status s = parse_journald_stream_file(text, stream_out); !s)
    return base::failure(s.error().errno_value, state_file + ": " + s.error().message);
  std::string image;
  if (Status s = format_stream_image(stream_out, image); !s)
    return s;
  return write_image_file(images_dir, journal_file_name(socket_inode), image);
}

Status reopen_journal_stream(std::uint32_t socket_inode, int images_dir, const JournalPaths &paths,
                             raw_bus::UniqueFd &socket_out, JournalStream &stream_out)
{
  std::string image;
  if (Status s = read_image_file(images_dir, journal_file_name(socket_inode), image); !s)
    return s;
  const std::string datagram_line = std::string(kDatagramKey) + "=";
  if (image.starts_with(datagram_line))
    return reconnect_datagram(image.substr(datagram_line.size()), paths, socket_out);
  if (image == kClosedStreamLine) {
    // as it was: a stream socket whose other end is gone (writes: EPIPE)
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
      return base::errno_error("socketpair for a closed journal stream");
    raw_bus::UniqueFd kept(pair[0]);
    close(pair[1]);
    stream_out = JournalStream{};
    stream_out.closed = true;
    socket_out = std::move(kept);
    return {};
  }
  if (Status s = parse_stream_image(image, stream_out); !s)
    return s;
  raw_bus::UniqueFd socket;
  if (Status s = raw_bus::connect_unix_stream(paths.stdout_socket, socket); !s)
    return journald_absent(s, "the service's stdout/stderr went to the journal (unit \"" +
                                  stream_out.unit_id + "\", identifier \"" + stream_out.identifier +
                                  "\")");
  // As systemd does for a service's stream: a big send buffer (best
  // effort), the header, and nothing to read from journald.
  (void)setsockopt(socket.get(), SOL_SOCKET, SO_SNDBUF, &kStreamSendBuffer, sizeof kStreamSendBuffer);
  if (Status s = raw_bus::send_all(socket.get(), stream_header(stream_out)); !s)
    return base::failure(s.error().errno_value, "send the stream header to journald: " + s.error().message);
  if (shutdown(socket.get(), SHUT_RD) < 0)
    return base::errno_error("shut the read side of the new journal stream");
  socket_out = std::move(socket);
  return {};
}

int dump_journal_socket(int fd, std::uint32_t socket_inode, int images_dir, const JournalPaths &paths)
{
  if (const std::string datagram = journal_datagram_peer(fd, paths); !datagram.empty()) {
    if (Status s = write_image_file(images_dir, journal_file_name(socket_inode),
                                    std::string(kDatagramKey) + "=" + datagram + "\n");
        !s) {
      log_error("journal socket " + std::to_string(socket_inode) + " not dumped: " + s.error().message);
      return s.error().negative_errno();
    }
    log_info("datagram socket " + std::to_string(socket_inode) + " to " + datagram + " dumped");
    return 0;
  }
  if (!is_journal_stream(fd, paths))
    return -ENOTSUP;
  const auto started = Clock::now();
  JournalStream stream;
  if (Status s = save_journal_stream(fd, socket_inode, images_dir, paths, stream); !s) {
    log_error(stream_name(socket_inode) + " not dumped: " + s.error().message);
    return s.error().negative_errno();
  }
  if (stream.closed)
    log_info(stream_name(socket_inode) + ", closed by journald (stopped since it was opened), "
             "dumped as closed in " + elapsed_ms(started));
  else
    log_info(stream_name(socket_inode) + " of unit \"" + stream.unit_id + "\" (identifier \"" +
             stream.identifier + "\", priority " + std::to_string(stream.priority) + ") dumped in " +
             elapsed_ms(started));
  return 0;
}

int restore_journal_socket(std::uint32_t socket_inode, int images_dir, const JournalPaths &paths)
{
  if (faccessat(images_dir, journal_file_name(socket_inode).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
      errno == ENOENT)
    return -ENOTSUP;  // not a journal stream we dumped
  const auto started = Clock::now();
  raw_bus::UniqueFd socket;
  JournalStream stream;
  if (Status s = reopen_journal_stream(socket_inode, images_dir, paths, socket, stream); !s) {
    log_error(stream_name(socket_inode) + " not restored: " + s.error().message);
    return s.error().negative_errno();
  }
  log_info(stream.closed
               ? stream_name(socket_inode) + " restored closed, as it was, in " + elapsed_ms(started)
           : stream.unit_id.empty() && stream.identifier.empty()
               ? "journal socket " + std::to_string(socket_inode) + " reconnected in " + elapsed_ms(started)
               : stream_name(socket_inode) + " reopened to journald for unit \"" + stream.unit_id + "\" in " +
                     elapsed_ms(started));
  return socket.release();
}

} // namespace dbus_checkpoint::criu_plugin
