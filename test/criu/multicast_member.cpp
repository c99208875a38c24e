// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-test-multicast-member: the two processes of test_criu_multicast, run
// inside its network namespace.
//
//   dcp-test-multicast-member member READY-FILE
//     one UDP socket per family on kPort, joined to kGroups on kDevice
//     (with their source filters), with non-default multicast send options;
//     prints "received PAYLOAD" for every datagram, and the options line for
//     kOptionsQuery; READY-FILE is written once it has joined.
//   dcp-test-multicast-member send FROM TO PAYLOAD
//     one datagram from address FROM to TO:kPort, out of kDevice.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include "base/unique_fd.hpp"
#include "multicast_member.hpp"

using dbus_checkpoint::base::UniqueFd;
using namespace dcp::test::multicast;

namespace {

[[noreturn]] void fail(const std::string &what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

bool is_ipv6(const char *address) { return std::strchr(address, ':') != nullptr; }

unsigned device_index()
{
  const unsigned index = if_nametoindex(kDevice);
  if (!index)
    fail(std::string("if_nametoindex ") + kDevice);
  return index;
}

// address:port as a sockaddr_storage (link-local IPv6 scoped to kDevice).
sockaddr_storage socket_address(const char *address, unsigned short port)
{
  sockaddr_storage storage{};
  if (is_ipv6(address)) {
    auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address, &in6->sin6_addr) != 1)
      throw std::runtime_error(std::string("not an address: ") + address);
    if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&in6->sin6_addr))
      in6->sin6_scope_id = device_index();
  } else {
    auto *in = reinterpret_cast<sockaddr_in *>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, address, &in->sin_addr) != 1)
      throw std::runtime_error(std::string("not an address: ") + address);
  }
  return storage;
}

socklen_t length_of(const sockaddr_storage &address)
{
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

void set_option(int fd, int level, int name, const void *value, socklen_t length, const char *what)
{
  if (setsockopt(fd, level, name, value, length) < 0)
    fail(what);
}

void set_int(int fd, int level, int name, int value, const char *what)
{
  set_option(fd, level, name, &value, sizeof(value), what);
}

int get_int(int fd, int level, int name)
{
  int value = 0;
  socklen_t length = sizeof(value);
  if (getsockopt(fd, level, name, &value, &length) < 0)
    fail("getsockopt");
  return value;
}

UniqueFd bound_socket(int family)
{
  UniqueFd fd(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd)
    fail("socket");
  set_int(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (family == AF_INET6)
    set_int(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
  const sockaddr_storage any = socket_address(family == AF_INET6 ? "::" : "0.0.0.0", kPort);
  if (bind(fd.get(), reinterpret_cast<const sockaddr *>(&any), length_of(any)) < 0)
    fail("bind");
  return fd;
}

void join(int fd, const Group &group)
{
  const int level = is_ipv6(group.address) ? IPPROTO_IPV6 : IPPROTO_IP;
  if (group.filter == Filter::IncludeOnly) {
    group_source_req request{};
    request.gsr_interface = device_index();
    request.gsr_group = socket_address(group.address, 0);
    request.gsr_source = socket_address(group.source, 0);
    set_option(fd, level, MCAST_JOIN_SOURCE_GROUP, &request, sizeof(request), group.name);
    return;
  }
  group_req request{};
  request.gr_interface = device_index();
  request.gr_group = socket_address(group.address, 0);
  set_option(fd, level, MCAST_JOIN_GROUP, &request, sizeof(request), group.name);
  if (group.filter == Filter::ExcludeOnly) {
    group_source_req blocked{};
    blocked.gsr_interface = request.gr_interface;
    blocked.gsr_group = request.gr_group;
    blocked.gsr_source = socket_address(group.source, 0);
    set_option(fd, level, MCAST_BLOCK_SOURCE, &blocked, sizeof(blocked), group.name);
  }
}

// What a multicast sender sets, none left at the kernel's default.
void set_send_options(int v4, int v6)
{
  set_int(v4, IPPROTO_IP, IP_MULTICAST_TTL, 255, "IP_MULTICAST_TTL");
  set_int(v4, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
  in_addr interface{};
  inet_pton(AF_INET, kSourceV4, &interface);
  set_option(v4, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface), "IP_MULTICAST_IF");
  set_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, "IPV6_MULTICAST_HOPS");
  set_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");
  set_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(device_index()), "IPV6_MULTICAST_IF");
}

std::string options_line(int v4, int v6)
{
  in_addr interface{};
  socklen_t length = sizeof(interface);
  if (getsockopt(v4, IPPROTO_IP, IP_MULTICAST_IF, &interface, &length) < 0)
    fail("getsockopt IP_MULTICAST_IF");
  char interface_text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &interface, interface_text, sizeof(interface_text));
  return "options v4 ttl=" + std::to_string(get_int(v4, IPPROTO_IP, IP_MULTICAST_TTL)) +
         " loop=" + std::to_string(get_int(v4, IPPROTO_IP, IP_MULTICAST_LOOP)) + " if=" + interface_text +
         " v6 hops=" + std::to_string(get_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS)) +
         " loop=" + std::to_string(get_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP)) +
         " if=" + std::to_string(get_int(v6, IPPROTO_IPV6, IPV6_MULTICAST_IF)) + "\n";
}

void say(const std::string &line)
{
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    fail("write");
}

int member(const char *ready_file)
{
  UniqueFd v4 = bound_socket(AF_INET);
  UniqueFd v6 = bound_socket(AF_INET6);
  for (const Group &group : kGroups)
    join(is_ipv6(group.address) ? v6.get() : v4.get(), group);
  set_send_options(v4.get(), v6.get());
  std::ofstream(ready_file) << getpid() << "\n";

  pollfd fds[] = {{v4.get(), POLLIN, 0}, {v6.get(), POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      fail("poll");
    }
    for (const pollfd &ready : fds) {
      if (!(ready.revents & POLLIN))
        continue;
      char payload[512];
      const ssize_t n = recv(ready.fd, payload, sizeof(payload) - 1, 0);
      if (n < 0)
        fail("recv");
      const std::string text(payload, static_cast<std::size_t>(n));
      say(text == kOptionsQuery ? options_line(v4.get(), v6.get()) : "received " + text + "\n");
    }
  }
}

int send(const char *from, const char *to, const char *payload)
{
  const sockaddr_storage source = socket_address(from, 0);
  const sockaddr_storage destination = socket_address(to, kPort);
  UniqueFd fd(socket(source.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd)
    fail("socket");
  if (source.ss_family == AF_INET6) {
    set_int(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(device_index()), "IPV6_MULTICAST_IF");
  } else {
    ip_mreqn interface{};
    interface.imr_ifindex = static_cast<int>(device_index());
    set_option(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface), "IP_MULTICAST_IF");
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr *>(&source), length_of(source)) < 0)
    fail(std::string("bind ") + from);
  const std::size_t length = std::strlen(payload);
  if (sendto(fd.get(), payload, length, 0, reinterpret_cast<const sockaddr *>(&destination),
             length_of(destination)) != static_cast<ssize_t>(length))
    fail(std::string("sendto ") + to);
  return 0;
}

} // namespace

int main(int argc, char **argv)
{
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "member" && argc == 3)
      return member(argv[2]);
    if (mode == "send" && argc == 5)
      return send(argv[2], argv[3], argv[4]);
    std::fprintf(stderr, "usage: %s member READY-FILE | send FROM TO PAYLOAD\n", argv[0]);
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}
