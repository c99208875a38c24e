// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus_socket.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "bus-client/process_buses.hpp"

namespace dbus_checkpoint::criu_plugin {

Status peer_socket_path(int fd, std::string &path_out)
{
  path_out.clear();
  struct sockaddr_un address{};
  socklen_t length = sizeof address;
  if (getpeername(fd, reinterpret_cast<struct sockaddr *>(&address), &length) < 0)
    return base::errno_error("getpeername");
  const std::size_t path_offset = offsetof(struct sockaddr_un, sun_path);
  if (address.sun_family != AF_UNIX || length <= path_offset || address.sun_path[0] == '\0')
    return {};  // unnamed or abstract: not a bus we can reach by path
  path_out.assign(address.sun_path, strnlen(address.sun_path, length - path_offset));
  return {};
}

std::vector<std::string> known_bus_sockets()
{
  std::vector<std::string> known{kSystemBusSocket};
  if (const char *address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS")) {
    for (std::string &path : bus_client::unix_paths_of_address(address))
      known.push_back(std::move(path));
  }
  if (const char *listed = std::getenv("DBUS_CHECKPOINT_BUS_SOCKETS")) {
    for (std::string_view path : bus_client::split_list(listed, ':')) {
      if (!path.empty())
        known.emplace_back(path);
    }
  }
  return known;
}

std::vector<pid_t> processes_holding_socket(std::uint32_t inode)
{
  namespace fs = std::filesystem;
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  std::vector<pid_t> pids;
  std::error_code error;
  for (const fs::directory_entry &process : fs::directory_iterator("/proc", error)) {
    const std::string pid_text = process.path().filename().string();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::error_code ignored;
    for (const fs::directory_entry &fd : fs::directory_iterator(process.path() / "fd", ignored)) {
      std::error_code unreadable;
      if (fs::read_symlink(fd.path(), unreadable).native() == wanted) {
        pids.push_back(static_cast<pid_t>(std::stol(pid_text)));
        break;
      }
    }
  }
  return pids;
}

std::vector<std::string> bus_sockets_of_processes(const std::vector<pid_t> &pids)
{
  std::vector<std::string> sockets;
  for (pid_t pid : pids) {
    auto buses = bus_client::process_bus_addresses(pid);
    if (!buses)
      continue;  // gone meanwhile
    for (const std::string *address : {&buses.value().session, &buses.value().system})
      for (std::string &path : bus_client::unix_paths_of_address(*address))
        sockets.push_back(std::move(path));
  }
  return sockets;
}

bool is_bus_socket(const std::string &path, const std::vector<std::string> &known)
{
  struct stat socket_file{};
  const bool exists = stat(path.c_str(), &socket_file) == 0;
  for (const std::string &candidate : known) {
    if (candidate == path)
      return true;
    // /var/run/dbus/... and /run/dbus/... are one socket.
    struct stat candidate_file{};
    if (exists && stat(candidate.c_str(), &candidate_file) == 0 &&
        candidate_file.st_dev == socket_file.st_dev && candidate_file.st_ino == socket_file.st_ino)
      return true;
  }
  return false;
}

namespace {

// A NETLINK_SOCK_DIAG socket in the network namespace `fd` was made in:
// this thread enters it for the socket(2) call only.
Status sock_diag_socket_for(int fd, raw_bus::UniqueFd &diag_out)
{
  const auto open_diag = [&] {
    diag_out = raw_bus::UniqueFd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    return diag_out ? Status{} : base::errno_error("socket(NETLINK_SOCK_DIAG)");
  };
  raw_bus::UniqueFd theirs(ioctl(fd, SIOCGSKNS));
  raw_bus::UniqueFd ours(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  struct stat their_status{}, our_status{};
  if (!theirs || !ours || fstat(theirs.get(), &their_status) < 0 || fstat(ours.get(), &our_status) < 0 ||
      their_status.st_ino == our_status.st_ino)
    return open_diag();  // ours (or the kernel cannot tell: then ours too)
  if (setns(theirs.get(), CLONE_NEWNET) < 0)
    return base::errno_error("enter the network namespace of socket fd " + std::to_string(fd));
  Status opened = open_diag();
  if (setns(ours.get(), CLONE_NEWNET) < 0)
    std::abort();  // criu would go on in the wrong namespace: nothing sane is left to do
  return opened;
}

} // namespace

Status peer_socket_inode(int fd, std::uint32_t inode, std::uint32_t &peer_inode_out)
{
  raw_bus::UniqueFd diag;
  if (Status s = sock_diag_socket_for(fd, diag); !s)
    return s;
  struct {
    struct nlmsghdr header;
    struct unix_diag_req request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_UNIX;
  query.request.udiag_states = ~0u;
  query.request.udiag_ino = inode;
  query.request.udiag_show = UDIAG_SHOW_PEER;
  // No cookie: look the socket up by inode alone.
  query.request.udiag_cookie[0] = ~0u;
  query.request.udiag_cookie[1] = ~0u;
  if (send(diag.get(), &query, sizeof query, 0) < 0)
    return base::errno_error("sock_diag request");

  alignas(struct nlmsghdr) char answer[8192];
  ssize_t n = recv(diag.get(), answer, sizeof answer, 0);
  if (n < 0)
    return base::errno_error("sock_diag answer");
  auto *header = reinterpret_cast<struct nlmsghdr *>(answer);
  if (!NLMSG_OK(header, static_cast<unsigned>(n)))
    return base::failure(EPROTO, "sock_diag: truncated answer");
  if (header->nlmsg_type == NLMSG_ERROR) {
    auto *error = static_cast<struct nlmsgerr *>(NLMSG_DATA(header));
    errno = -error->error;
    return base::errno_error("sock_diag of socket " + std::to_string(inode));
  }
  auto *message = static_cast<struct unix_diag_msg *>(NLMSG_DATA(header));
  int attributes_length = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof *message));
  for (auto *attribute = reinterpret_cast<struct rtattr *>(message + 1);
       RTA_OK(attribute, attributes_length); attribute = RTA_NEXT(attribute, attributes_length)) {
    if (attribute->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(attribute) >= sizeof(std::uint32_t)) {
      std::memcpy(&peer_inode_out, RTA_DATA(attribute), sizeof peer_inode_out);
      return {};
    }
  }
  return base::failure(ENOTCONN, "socket " + std::to_string(inode) + " has no peer");
}

} // namespace dbus_checkpoint::criu_plugin
