// SPDX-License-Identifier: GPL-2.0-or-later
// A service's stdout/stderr connected to the journal (systemd's default,
// StandardOutput=journal): a unix stream socket to journald's
// /run/systemd/journal/stdout.  CRIU refuses it as an external socket; the
// plugin claims it at dump and, at restore, opens a new stream to journald
// with the same header (journald's stdout protocol: seven lines, then
// the log text).
//
// At dump the header is read from journald's own record of the stream,
// /run/systemd/journal/streams/DEV:INO (DEV:INO of journald's end of the
// socket), and kept in the images directory as
// dbus-checkpoint-<ino>.journal.  The restore connects from the task being
// restored (CRIU runs the hook there: the right pid and cgroup, still
// root), so journald accepts the unit id and files the lines under the
// unit.  Not carried over: the lines journald had not read (they are in
// journald's queue already, not ours), the old stream's id, and the
// service's $JOURNAL_STREAM, which names the old socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raw-bus/raw_socket.hpp"

namespace dbus_checkpoint::criu_plugin {

using base::Status;

// Where journald is; the tests point these at their own sockets.
struct JournalPaths {
  std::string stdout_socket = "/run/systemd/journal/stdout";
  std::string streams_dir = "/run/systemd/journal/streams";
  // Its datagram sockets: syslog(3)'s /dev/log, and sd_journal_print's.
  std::string syslog_socket = "/run/systemd/journal/dev-log";
  std::string native_socket = "/run/systemd/journal/socket";
};

// One stream's header, as journald's protocol sends it.
struct JournalStream {
  std::string identifier;    // SYSLOG_IDENTIFIER (may be empty)
  std::string unit_id;       // e.g. "avahi-daemon.service" (may be empty)
  int priority = 6;          // LOG_INFO; with a facility, 0..999
  bool level_prefix = true;  // "<N>" prefixes parsed
  bool forward_to_syslog = false;
  bool forward_to_kmsg = false;
  bool forward_to_console = false;
  // journald's end was closed (journald stopped, which lets go of its
  // streams): saved and restored as a stream without a peer, no header
  bool closed = false;

  bool operator==(const JournalStream &) const = default;
};

// journald's streams/DEV:INO file (KEY=VALUE lines, values C-escaped).
Status parse_journald_stream_file(std::string_view text, JournalStream &stream_out);
// Our image file: the same KEY=VALUE lines, values as they are (a value
// holding a newline or NUL is refused: the protocol is line-based).
Status format_stream_image(const JournalStream &stream, std::string &text_out);
Status parse_stream_image(std::string_view text, JournalStream &stream_out);
// The seven header lines a new stream starts with.
std::string stream_header(const JournalStream &stream);

// fd is connected to journald's stdout socket (by path, or the same file).
bool is_journal_stream(int fd, const JournalPaths &paths);
// fd is a datagram socket connected to journald's syslog or native socket
// (syslog(3) keeps one open): the path it is connected to, else "".
std::string journal_datagram_peer(int fd, const JournalPaths &paths);

// Reads journald's record of the stream whose client end is fd (inode
// socket_inode) and writes dbus-checkpoint-<socket_inode>.journal in
// images_dir; a stream whose journald end is closed is saved as closed.
Status save_journal_stream(int fd, std::uint32_t socket_inode, int images_dir,
                           const JournalPaths &paths, JournalStream &stream_out);
// A new stream to journald continuing the saved one: connected, header
// sent, read side shut (as systemd does); a closed one closed again (a
// socket whose peer is gone).  ENOENT if the images directory
// holds no journal stream for this inode; a clear failure if journald does
// not listen.
Status reopen_journal_stream(std::uint32_t socket_inode, int images_dir,
                             const JournalPaths &paths, raw_bus::UniqueFd &socket_out,
                             JournalStream &stream_out);

// CRIU's hooks for these sockets (see socket_hooks.hpp for the return
// values): -ENOTSUP for a socket that is not a journal stream.  A journal
// datagram socket is claimed too: its image file holds DATAGRAM=PATH, and
// the restore connects a new datagram socket to PATH (one of
// JournalPaths' datagram sockets).
int dump_journal_socket(int fd, std::uint32_t socket_inode, int images_dir,
                        const JournalPaths &paths = {});
int restore_journal_socket(std::uint32_t socket_inode, int images_dir,
                           const JournalPaths &paths = {});

} // namespace dbus_checkpoint::criu_plugin
