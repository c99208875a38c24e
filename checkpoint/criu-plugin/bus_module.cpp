// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus_module.hpp"

#include <dlfcn.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "plugin_log.hpp"

namespace dbus_checkpoint::criu_plugin {
namespace {

constexpr const char *kModulePath = "dbus-checkpoint-criu.d/dbus-checkpoint-criu-bus.so";

struct BusModule {
  decltype(&dcp_criu_bus_dump) dump = nullptr;
  decltype(&dcp_criu_bus_restore) restore = nullptr;
};

// The directory of the plugin itself (where CRIU found it), with a slash.
std::string plugin_directory()
{
  Dl_info info{};
  if (dladdr(reinterpret_cast<void *>(&plugin_directory), &info) == 0 || info.dli_fname == nullptr)
    return {};
  std::string path = info.dli_fname;
  return path.substr(0, path.rfind('/') + 1);
}

// Loaded once per process (a restore's hooks run in CRIU's children: each
// loads it if it needs it) and never unloaded.
const BusModule *bus_module()
{
  static const BusModule loaded = [] {
    BusModule module;
    const auto started = std::chrono::steady_clock::now();
    const std::string path = plugin_directory() + kModulePath;
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      log_error(std::string("cannot load the bus module: ") + dlerror());
      return module;
    }
    module.dump = reinterpret_cast<decltype(module.dump)>(dlsym(handle, "dcp_criu_bus_dump"));
    module.restore = reinterpret_cast<decltype(module.restore)>(dlsym(handle, "dcp_criu_bus_restore"));
    if (module.dump == nullptr || module.restore == nullptr)
      log_error("the bus module " + path + " lacks its calls");
    else
      log_info("loaded the bus module " + path + " in " + elapsed_ms(started));
    return module;
  }();
  return loaded.dump != nullptr && loaded.restore != nullptr ? &loaded : nullptr;
}

} // namespace

int bus_module_dump(int fd, std::uint32_t socket_inode, int images_dir)
{
  const BusModule *module = bus_module();
  return module != nullptr ? module->dump(fd, socket_inode, images_dir) : -ELIBACC;
}

int bus_module_restore(std::uint32_t socket_inode, int images_dir)
{
  const BusModule *module = bus_module();
  return module != nullptr ? module->restore(socket_inode, images_dir) : -ELIBACC;
}

} // namespace dbus_checkpoint::criu_plugin
