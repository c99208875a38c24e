// SPDX-License-Identifier: GPL-2.0-or-later
// Owning handles for sd-bus objects.
#pragma once

#include <memory>
#include <string>
#include <systemd/sd-bus.h>

namespace dbus_checkpoint::bus_client {

struct SdBusCloser {
  void operator()(sd_bus *bus) const noexcept { sd_bus_flush_close_unref(bus); }
};
struct SdBusMessageUnref {
  void operator()(sd_bus_message *message) const noexcept { sd_bus_message_unref(message); }
};
using SdBus = std::unique_ptr<sd_bus, SdBusCloser>;
using SdBusMessage = std::unique_ptr<sd_bus_message, SdBusMessageUnref>;

// Owns an sd_bus_error; pass get() where sd-bus wants one.
class SdBusError {
 public:
  SdBusError() = default;
  SdBusError(const SdBusError &) = delete;
  SdBusError &operator=(const SdBusError &) = delete;
  ~SdBusError() { sd_bus_error_free(&error_); }

  sd_bus_error *get() noexcept { return &error_; }
  bool is_set() const noexcept { return sd_bus_error_is_set(&error_); }
  std::string name() const { return error_.name ? error_.name : ""; }
  std::string message() const { return error_.message ? error_.message : ""; }

 private:
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

} // namespace dbus_checkpoint::bus_client
