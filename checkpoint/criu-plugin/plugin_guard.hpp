// SPDX-License-Identifier: GPL-2.0-or-later
// The boundary of every hook CRIU (or the plugin, into its bus module)
// calls: no C++ exception may pass into C code.
#pragma once

#include <cerrno>
#include <exception>
#include <new>
#include <string>

#include "plugin_log.hpp"

namespace dbus_checkpoint::criu_plugin {

// run()'s result; an exception becomes a line in CRIU's log and -ENOMEM
// or -EIO.
template <typename Hook>
int guarded(const char *hook, Hook &&run) noexcept
{
  try {
    return run();
  } catch (const std::bad_alloc &) {
    log_error(std::string(hook) + ": out of memory");
    return -ENOMEM;
  } catch (const std::exception &e) {
    log_error(std::string(hook) + ": " + e.what());
    return -EIO;
  } catch (...) {
    return -EIO;
  }
}

} // namespace dbus_checkpoint::criu_plugin
