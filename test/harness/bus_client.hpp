// SPDX-License-Identifier: GPL-2.0-or-later
// A small sd-bus client for tests: owning handles, method calls that
// return the error instead of failing, and signal collection with a
// deadline.  Test-only code: failures to even connect or send throw.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <systemd/sd-bus.h>
#include "bus-client/sd_bus_handles.hpp"
#include <vector>

namespace dcp::test {

// The owning sd-bus handles are the product's own (checkpoint/bus-client).
using dbus_checkpoint::bus_client::SdBus;
using dbus_checkpoint::bus_client::SdBusError;
using dbus_checkpoint::bus_client::SdBusMessage;

struct SdBusSlotDeleter {
  void operator()(sd_bus_slot *slot) const { sd_bus_slot_unref(slot); }
};
using SdBusSlot = std::unique_ptr<sd_bus_slot, SdBusSlotDeleter>;

// A new connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS: the
// PrivateSystemBus while one exists), Hello done.
SdBus open_system_bus();

struct MethodCall {
  std::string destination;
  std::string path;
  std::string interface;
  std::string member;
  std::chrono::milliseconds timeout = std::chrono::seconds(25);
};

// Either the reply or the error (name and message), never both.
struct CallResult {
  SdBusMessage reply;
  std::string error_name;
  std::string error_message;

  bool ok() const { return reply != nullptr; }
  std::string describe() const;  // for assertion messages
};

// Appends the call's arguments; returns a negative errno on failure.
using ArgumentWriter = std::function<int(sd_bus_message *)>;

CallResult call(sd_bus *bus, const MethodCall &method, const ArgumentWriter &write_arguments = {});

// call(bus, method, "su", "text", 42u): arguments as sd_bus_message_append takes them.
template <typename... Arguments>
CallResult call(sd_bus *bus, const MethodCall &method, const char *signature,
                Arguments... arguments)
{
  return call(bus, method, [&](sd_bus_message *message) {
    return sd_bus_message_append(message, signature, arguments...);
  });
}

// Read the next argument of a message; throw if it is not of that type.
std::string read_string(sd_bus_message *message);
std::uint64_t read_uint64(sd_bus_message *message);
std::vector<std::string> read_string_array(sd_bus_message *message);

// Run the bus (dispatch what arrives) until `done()` or the timeout; false
// on timeout.  Throws if the connection fails.
bool process_until(sd_bus *bus, const std::function<bool()> &done,
                   std::chrono::milliseconds timeout);

// Collects the signals that match a rule, from the moment it is
// constructed (AddMatch is synchronous) until destroyed.
class SignalCollector {
 public:
  SignalCollector(sd_bus *bus, const std::string &match_rule);
  SignalCollector(const SignalCollector &) = delete;
  SignalCollector &operator=(const SignalCollector &) = delete;

  // Dispatch until at least `count` signals have arrived; false on timeout.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout);
  const std::vector<SdBusMessage> &signals() const { return received_; }

 private:
  static int on_signal(sd_bus_message *message, void *userdata, sd_bus_error *);
  sd_bus *bus_;
  std::vector<SdBusMessage> received_;
  SdBusSlot slot_;  // last: removed before received_ goes away
};

} // namespace dcp::test
