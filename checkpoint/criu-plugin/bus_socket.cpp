#include "bus_socket.hpp"

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

namespace dbus_checkpoint::criu_plugin {
namespace {

int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// D-Bus address values escape bytes as %XX.
std::string unescape_address_value(std::string_view value)
{
  std::string out;
  for (std::size_t i = 0; i < value.size(); i++) {
    const bool escaped = value[i] == '%' && i + 2 < value.size() &&
                         hex_value(value[i + 1]) >= 0 && hex_value(value[i + 2]) >= 0;
    if (escaped) {
      out += static_cast<char>(hex_value(value[i + 1]) * 16 + hex_value(value[i + 2]));
      i += 2;
    } else {
      out += value[i];
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator)
{
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos)
      end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

} // namespace

Status peer_socket_path(int fd, std::string &path_out)
{
  path_out.clear();
  struct sockaddr_un address{};
  socklen_t length = sizeof address;
  if (getpeername(fd, reinterpret_cast<struct sockaddr *>(&address), &length) < 0)
    return raw_bus::errno_failure("getpeername");
  const std::size_t path_offset = offsetof(struct sockaddr_un, sun_path);
  if (address.sun_family != AF_UNIX || length <= path_offset || address.sun_path[0] == '\0')
    return {};  // unnamed or abstract: not a bus we can reach by path
  path_out.assign(address.sun_path, strnlen(address.sun_path, length - path_offset));
  return {};
}

std::vector<std::string> unix_paths_of_address(std::string_view address)
{
  std::vector<std::string> paths;
  for (std::string_view entry : split(address, ';')) {
    if (entry.substr(0, 5) != "unix:")
      continue;
    for (std::string_view pair : split(entry.substr(5), ',')) {
      if (pair.substr(0, 5) == "path=")
        paths.push_back(unescape_address_value(pair.substr(5)));
    }
  }
  return paths;
}

std::vector<std::string> known_bus_sockets()
{
  std::vector<std::string> known{kSystemBusSocket};
  if (const char *address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS")) {
    for (std::string &path : unix_paths_of_address(address))
      known.push_back(std::move(path));
  }
  if (const char *listed = std::getenv("DBUS_CHECKPOINT_BUS_SOCKETS")) {
    for (std::string_view path : split(listed, ':')) {
      if (!path.empty())
        known.emplace_back(path);
    }
  }
  return known;
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

Status peer_socket_inode(std::uint32_t inode, std::uint32_t &peer_inode_out)
{
  raw_bus::UniqueFd diag(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag)
    return raw_bus::errno_failure("socket(NETLINK_SOCK_DIAG)");
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
    return raw_bus::errno_failure("sock_diag request");

  alignas(struct nlmsghdr) char answer[8192];
  ssize_t n = recv(diag.get(), answer, sizeof answer, 0);
  if (n < 0)
    return raw_bus::errno_failure("sock_diag answer");
  auto *header = reinterpret_cast<struct nlmsghdr *>(answer);
  if (!NLMSG_OK(header, static_cast<unsigned>(n)))
    return raw_bus::failure(EPROTO, "sock_diag: truncated answer");
  if (header->nlmsg_type == NLMSG_ERROR) {
    auto *error = static_cast<struct nlmsgerr *>(NLMSG_DATA(header));
    errno = -error->error;
    return raw_bus::errno_failure("sock_diag of socket " + std::to_string(inode));
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
  return raw_bus::failure(ENOTCONN, "socket " + std::to_string(inode) + " has no peer");
}

} // namespace dbus_checkpoint::criu_plugin
