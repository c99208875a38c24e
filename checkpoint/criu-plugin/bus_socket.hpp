// SPDX-License-Identifier: GPL-2.0-or-later
// Which of a dumped task's sockets are bus connections, and the bus's end
// of them.  CRIU hands the plugin every socket whose peer is outside the
// dump; only those connected to a bus we know are ours.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raw-bus/raw_socket.hpp"

namespace dbus_checkpoint::criu_plugin {

using base::Status;

inline constexpr const char *kSystemBusSocket = "/run/dbus/system_bus_socket";

// The filesystem path the stream socket fd is connected to (the listening
// socket's name); empty for an unnamed or abstract peer.
Status peer_socket_path(int fd, std::string &path_out);

// The bus sockets: the system bus's standard socket, the unix:path= of
// $DBUS_SYSTEM_BUS_ADDRESS (CRIU runs with its caller's environment) and
// the colon-separated paths of $DBUS_CHECKPOINT_BUS_SOCKETS.
std::vector<std::string> known_bus_sockets();

// The processes that have the socket with this inode open (/proc/*/fd).
std::vector<pid_t> processes_holding_socket(std::uint32_t inode);

// The unix:path= sockets of the buses these processes were started with:
// DBUS_SESSION_BUS_ADDRESS and DBUS_SYSTEM_BUS_ADDRESS of each one's
// /proc/PID/environ (a session bus is known only there).
std::vector<std::string> bus_sockets_of_processes(const std::vector<pid_t> &pids);

// path names one of `known`: the same string or the same socket file.
bool is_bus_socket(const std::string &path, const std::vector<std::string> &known);

// The inode of the other end of the unix socket `fd` (whose inode is
// `inode`: the bus's end of a client's socket), from the kernel's
// sock_diag in the network namespace the socket was made in (sock_diag
// lists its own namespace's sockets only: criu dumps a sandboxed service
// from inside its namespace, and its journal streams are of the host's).
Status peer_socket_inode(int fd, std::uint32_t inode, std::uint32_t &peer_inode_out);

} // namespace dbus_checkpoint::criu_plugin
