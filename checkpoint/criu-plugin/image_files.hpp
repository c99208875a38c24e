// SPDX-License-Identifier: GPL-2.0-or-later
// What the plugin keeps in CRIU's images directory for each bus socket it
// claims, named by the socket's inode (CRIU's id for it at dump and
// restore): dbus-checkpoint-<ino>.record, the frozen connection's record
// with the bytes the client had not read, and dbus-checkpoint-<ino>.bus,
// the path of the bus's socket, and dbus-checkpoint-<ino>.reattach, the
// Reattach call made from the record at dump time (the bytes sent at
// restore, so that the restore path parses no record and needs no client
// library); dbus-checkpoint-<ino>.journal for a stdout/stderr stream to
// the journal (journal_stream.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raw-bus/raw_socket.hpp"

namespace dbus_checkpoint::criu_plugin {

using base::Status;

std::string record_file_name(std::uint32_t socket_inode);
std::string bus_file_name(std::uint32_t socket_inode);
std::string journal_file_name(std::uint32_t socket_inode);
std::string reattach_file_name(std::uint32_t socket_inode);

// The images directory must be owned by root (or us) and not writable by
// group or others: its files say which bus root connects to and what it
// sends there.
Status check_images_dir(int dir_fd);

// Files in the directory dir_fd (criu_get_image_dir()), mode 0600: the
// record holds the connection's credentials and queued messages.  Each is
// checked with check_images_dir(); written files are created anew
// (O_EXCL), and no file is opened through a symlink.
Status write_image_file(int dir_fd, const std::string &name, std::string_view bytes);
// ENOENT when the file is not there.
Status read_image_file(int dir_fd, const std::string &name, std::string &bytes_out);

} // namespace dbus_checkpoint::criu_plugin
