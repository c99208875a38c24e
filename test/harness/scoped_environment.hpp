// SPDX-License-Identifier: GPL-2.0-or-later
// An environment variable set for the processes (daemons, services)
// started while it lives: the test build's hooks are read this way.
#pragma once

#include <cstdlib>

namespace dcp::test {

class ScopedEnvironment {
public:
  ScopedEnvironment(const char *name, const char *value) : name_(name)
  {
    ::setenv(name, value, 1);
  }
  ScopedEnvironment(const ScopedEnvironment &) = delete;
  ScopedEnvironment &operator=(const ScopedEnvironment &) = delete;
  ~ScopedEnvironment() { ::unsetenv(name_); }

private:
  const char *name_;
};

} // namespace dcp::test
