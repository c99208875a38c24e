// SPDX-License-Identifier: GPL-2.0-or-later
// Whether a bus that mediates with an LSM may adopt a record (issue 12,
// finding 2): only a record frozen with the label the bus's own end of the
// adopted connection carries, and never when the label cannot be read.
#define BOOST_TEST_MODULE record_mediation
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "base/unique_fd.hpp"
#include "dbus-checkpoint/bus-abi.h"
#include "record/mediation.hpp"

namespace rec = dbus_checkpoint::record;
using dbus_checkpoint::base::UniqueFd;

namespace {

struct SocketPair {
  UniqueFd bus_end, client_end;

  SocketPair()
  {
    int fds[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    bus_end = UniqueFd(fds[0]);
    client_end = UniqueFd(fds[1]);
  }
};

// dcp_adoption_check_label as the daemon calls it: its result and problem.
struct Verdict {
  int result;
  std::string problem;
};

Verdict check(int fd, const char *recorded_label, int bus_mediates)
{
  char *problem = nullptr;
  const int r = dcp_adoption_check_label(fd, recorded_label, bus_mediates, &problem);
  Verdict verdict{r, problem != nullptr ? problem : ""};
  std::free(problem);
  return verdict;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_same_label_may_be_adopted_another_may_not)
{
  BOOST_TEST(rec::adoption_label_problem("unconfined", "unconfined").empty());
  BOOST_TEST(rec::adoption_label_problem("", "").empty(), "no LSM label on either side");
  BOOST_TEST(rec::adoption_label_problem(std::string("unconfined\0", 11), "unconfined").empty(),
             "SO_PEERSEC's trailing NUL does not count");

  const std::string problem =
      rec::adoption_label_problem("/usr/sbin/cupsd (enforce)", "unconfined");
  BOOST_TEST(problem.find("as the bus's own security label \"unconfined\"") != std::string::npos,
             problem);
  BOOST_TEST(problem.find("frozen with, \"/usr/sbin/cupsd (enforce)\"") != std::string::npos,
             problem);
  BOOST_TEST(rec::adoption_label_problem("", "unconfined").find("frozen with, none") !=
                 std::string::npos);
  BOOST_TEST(!rec::adoption_label_problem("system_u:system_r:avahi_t:s0",
                                          "system_u:system_r:system_dbusd_t:s0")
                  .empty(),
             "SELinux: the bus's own context is never a service's");
}

BOOST_AUTO_TEST_CASE(the_label_of_a_socket_is_read_or_says_why)
{
  SocketPair pair;
  auto label = rec::socket_peer_label(pair.bus_end.get());
  BOOST_REQUIRE_MESSAGE(label.ok(), (label.ok() ? std::string() : label.error().message));
  BOOST_TEST(label.value().find('\0') == std::string::npos);
  BOOST_TEST_MESSAGE("this machine's label of our own socket: \"" << label.value() << "\"");

  auto closed = rec::socket_peer_label(-1);
  BOOST_REQUIRE(!closed.ok());
  BOOST_TEST(closed.error().errno_value == EBADF);
  BOOST_TEST(closed.error().message.find("SO_PEERSEC") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_abi_mediates_only_when_the_bus_does)
{
  BOOST_REQUIRE(std::getenv("DCP_TEST_BUS_LSM_LABEL") == nullptr);
  SocketPair pair;
  const int fd = pair.bus_end.get();
  const std::string own = rec::socket_peer_label(fd).value();

  BOOST_TEST(check(fd, "/usr/sbin/cupsd (enforce)", 0).result == 0, "no LSM: any label");
  BOOST_TEST(check(fd, nullptr, 0).result == 0);
  Verdict same = check(fd, own.c_str(), 1);
  BOOST_TEST(same.result == 0, same.problem);
  BOOST_TEST(same.problem.empty());

  Verdict other = check(fd, (own + "-other").c_str(), 1);
  BOOST_TEST(other.result == -EACCES);
  BOOST_TEST(other.problem.find("would mediate the restored connection") != std::string::npos,
             other.problem);

  // A label that cannot be read refuses the record, saying why.
  int closed_fd = -1;
  {
    SocketPair gone;
    closed_fd = gone.bus_end.get();
  }
  Verdict unreadable = check(closed_fd, "x", 1);
  BOOST_TEST(unreadable.result == -EBADF);
  BOOST_TEST(unreadable.problem.find("SO_PEERSEC") != std::string::npos, unreadable.problem);

  BOOST_TEST(check(-1, "x", 1).result == -EINVAL);
  BOOST_TEST(dcp_adoption_check_label(fd, "x", 1, nullptr) == -EINVAL);
}
