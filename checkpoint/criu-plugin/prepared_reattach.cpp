// SPDX-License-Identifier: GPL-2.0-or-later
#include "prepared_reattach.hpp"

#include <cerrno>
#include <chrono>
#include <string>

#include "bus_socket.hpp"
#include "image_files.hpp"
#include "plugin_log.hpp"
#include "raw-bus/raw_socket.hpp"

namespace dbus_checkpoint::criu_plugin {
namespace {

// The handshake and Reattach's answer (the bus module allows as long for
// all of its restore).
constexpr std::chrono::seconds kReattachTimeout{10};
constexpr int kMethodReturn = 2;  // the specification's METHOD_RETURN

std::string socket_name(std::uint32_t socket_inode)
{
  return "socket " + std::to_string(socket_inode);
}

} // namespace

PreparedReattach restore_prepared_bus_socket(std::uint32_t socket_inode, int images_dir,
                                             base::UniqueFd &socket_out, int &error_out)
{
  const auto failed = [&](const Status &s) {
    log_error(socket_name(socket_inode) + " not restored: " + s.error().describe());
    error_out = s.error().negative_errno();
    return PreparedReattach::kFailed;
  };
  std::string bus_path;
  Status s = read_image_file(images_dir, bus_file_name(socket_inode), bus_path);
  if (!s && s.error().errno_value == ENOENT)
    return PreparedReattach::kNotOurs;  // another plugin's socket, or a journal stream
  if (!s)
    return failed(s);
  const auto started = std::chrono::steady_clock::now();
  std::string call;
  s = read_image_file(images_dir, reattach_file_name(socket_inode), call);
  if (!s && s.error().errno_value == ENOENT)
    return PreparedReattach::kNeedsBusModule;  // dumped by a plugin that did not prepare it
  if (!s)
    return failed(s);
  // only to a bus we would have dumped from (the CLI names it to criu)
  if (!is_bus_socket(bus_path, known_bus_sockets()))
    return failed(base::failure(EPERM, bus_file_name(socket_inode) + " names " + bus_path +
                                           ", not a bus socket of this system (" +
                                           "DBUS_SYSTEM_BUS_ADDRESS or DBUS_CHECKPOINT_BUS_SOCKETS)"));

  const raw_bus::Deadline deadline = std::chrono::steady_clock::now() + kReattachTimeout;
  base::UniqueFd socket;
  std::string reply;
  raw_bus::MessageKind kind;
  // Exactly the reply: what follows it on the socket is the client's.
  s = raw_bus::send_first_message(bus_path, call, deadline, socket, reply);
  if (s)
    s = raw_bus::read_message_kind(reply, kind);
  if (!s)
    return failed(s);
  if (kind.type != kMethodReturn || kind.reply_serial != kReattachSerial) {
    // Its error is named, or the record Imported, by the bus module.
    // (Not "socket N ..." first: that line ends a reattach in criu-probe/restore_phases.)
    log_info("the bus did not take the prepared Reattach of " + socket_name(socket_inode) +
             " (its answer is of type " + std::to_string(kind.type) + "): the bus module restores it");
    return PreparedReattach::kNeedsBusModule;
  }
  log_info(socket_name(socket_inode) + " reattached to the bus at " + bus_path + " in " +
           elapsed_ms(started));
  socket_out = std::move(socket);
  return PreparedReattach::kDone;
}

} // namespace dbus_checkpoint::criu_plugin
