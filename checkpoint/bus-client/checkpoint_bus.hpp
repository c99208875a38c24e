// SPDX-License-Identifier: GPL-2.0-or-later
// A client of the bus's org.freedesktop.DBus.Checkpoint interface
// (DESIGN.md §1): one connection, typed results, no exceptions out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "bus-client/sd_bus_handles.hpp"

namespace dbus_checkpoint::bus_client {

// Which bus to talk to: the system bus ($DBUS_SYSTEM_BUS_ADDRESS or the
// standard socket) unless an address is given.
struct BusAddress {
  std::string address;  // a D-Bus address ("unix:path=..."); empty: the system bus
  std::string describe() const { return address.empty() ? "the system bus" : address; }
};

// One entry of ListFrozen: a(ssasa{sv}).  Details the bus did not send
// keep these defaults.
struct FrozenConnection {
  std::string id;
  std::string unique_name;
  std::vector<std::string> names;  // well-known names
  bool attached = false;           // its process still has the socket
  std::int64_t since_usec = 0;     // CLOCK_REALTIME, when it froze
  std::uint32_t uid = 0;
  std::uint32_t pid = 0;
  std::uint32_t queued_messages = 0;
  std::uint64_t queued_bytes = 0;
  std::uint64_t dropped_signals = 0;
  std::uint64_t socket_inode = 0;  // the bus's end of its socket; 0 when detached
};

// The entries of a ListFrozen reply (read from its start): the one reader
// of ListFrozen, for callers that make the call on a connection of their
// own too (the CRIU plugin, the test harness).
base::Result<std::vector<FrozenConnection>> read_frozen_connections(sd_bus_message *reply);

class CheckpointBus {
 public:
  // Connects and says Hello, so that a bus that is not there fails here.
  static base::Result<CheckpointBus> connect(const BusAddress &where);

  // This connection's own unique name (":1.42").
  const std::string &unique_name() const { return unique_name_; }

  base::Result<std::string> freeze(const std::string &name);  // → checkpoint id
  base::Result<void> thaw(const std::string &checkpoint_id);
  base::Result<void> discard(const std::string &checkpoint_id);
  // KeepAcrossReboot: whether the bus restores the record at start-up also
  // in another boot.
  base::Result<void> keep_across_reboot(const std::string &checkpoint_id, bool keep);
  base::Result<std::vector<std::uint8_t>> export_record(const std::string &checkpoint_id);
  base::Result<std::vector<FrozenConnection>> list_frozen();

  // org.freedesktop.DBus.GetConnectionUnixProcessID: the pid of the
  // connection that owns `name`.
  base::Result<std::uint32_t> connection_pid(const std::string &name);
  // org.freedesktop.DBus.ListNames: every name on the bus, unique ones
  // (":1.42") included.
  base::Result<std::vector<std::string>> list_names();
  // org.freedesktop.DBus.GetNameOwner: the unique name owning `name`; the
  // bus's NameHasNoOwner error if nobody does.
  base::Result<std::string> name_owner(const std::string &name);

 private:
  CheckpointBus(SdBus bus, std::string unique_name)
      : bus_(std::move(bus)), unique_name_(std::move(unique_name))
  {
  }
  // Calls a member of the bus driver with one string argument (or none
  // when `argument` is null).
  base::Result<SdBusMessage> call_bus(const char *interface, const char *member,
                                const char *argument = nullptr);

  SdBus bus_;
  std::string unique_name_;
};

} // namespace dbus_checkpoint::bus_client
