// The C ABI the patched daemon links against (include/dbus-checkpoint/bus-abi.h).
// Each entry point validates its arguments and turns C++ failures into
// negative errno values: no exception crosses into the daemon.
#include "dbus-checkpoint/bus-abi.h"

#include <cerrno>
#include <exception>
#include <new>

#include <google/protobuf/stubs/common.h>

#include "dbus-checkpoint/version.hpp"

extern "C" const char *
dcp_version (void)
{
  return dbus_checkpoint::kVersion;
}

extern "C" int
dcp_init (void)
{
  try
    {
      GOOGLE_PROTOBUF_VERIFY_VERSION;
      return 0;
    }
  catch (const std::bad_alloc &)
    {
      return -ENOMEM;
    }
  catch (const std::exception &)
    {
      return -EINVAL;
    }
}
