// SPDX-License-Identifier: GPL-2.0-or-later
// A hostile local user's flood of NO_REPLY calls, for the hardening tests
// and the load benchmark: a forked child that drops to a uid, connects to
// the system bus ($DBUS_SYSTEM_BUS_ADDRESS), sends the calls (each with an
// fd if asked), reads the errors the bus sends back as it goes, and reports
// them by name.
#pragma once

#include <sys/types.h>

#include <string>

#include "bus_client.hpp"

namespace dcp::test {

struct FloodResult {
  unsigned sent = 0;
  unsigned limits_exceeded = 0;
  unsigned not_supported = 0;
  unsigned other_errors = 0;
};

class NoReplyFlood {
 public:
  // `call` with one string argument `argument` if not empty; as `uid`
  // (0: as ourselves).  Returns at once: the child floods meanwhile.
  NoReplyFlood(const MethodCall &call, const std::string &argument, unsigned count, uid_t uid,
               bool with_fd = false);
  ~NoReplyFlood();  // kills and reaps a child not finished
  NoReplyFlood(const NoReplyFlood &) = delete;
  NoReplyFlood &operator=(const NoReplyFlood &) = delete;

  // True once the child has exited (it then waits for finish()).
  bool done();
  // Waits for the child (it collects the answers for 2 s after its last
  // call); throws std::runtime_error if it failed.
  FloodResult finish();

 private:
  pid_t child_ = -1;
  int result_fd_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

} // namespace dcp::test
