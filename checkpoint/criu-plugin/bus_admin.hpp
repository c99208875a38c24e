// SPDX-License-Identifier: GPL-2.0-or-later
// The calls the plugin makes to org.freedesktop.DBus.Checkpoint over
// sd-bus, on the bus a dumped socket was connected to: which frozen
// connection owns a socket (ListFrozen's "socket_inode"), its record
// (Export), adopting a record on a bus that does not know it (Import).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bus-client/checkpoint_bus.hpp"
#include "bus-client/sd_bus_handles.hpp"
#include "raw-bus/raw_bus.hpp"

namespace dbus_checkpoint::criu_plugin {

using base::Status;

// Hello done: CRIU runs as root, which the bus's policy lets call the
// Checkpoint interface.
Status open_bus_at(const std::string &socket_path, bus_client::SdBus &bus_out);

// ListFrozen, read by bus-client's one reader: each entry's id, unique name
// and socket_inode are what the plugin uses.
Status list_frozen(sd_bus *bus, std::vector<bus_client::FrozenConnection> &frozen_out);

// Makes sure `bus` (open_bus_at's, to socket_path) does not hold
// unique_name, replacing it if it does, and waits until the bus has let the
// name go.  Import refuses a record whose unique name is in use, even by
// the connection importing it, and a bus that has just started (another
// host, a reboot without the record) gives out the same first names
// (":1.0", ":1.1"...) as the bus the record comes from did.
Status release_unique_name(const std::string &socket_path, const std::string &unique_name,
                           raw_bus::Deadline deadline, bus_client::SdBus &bus);

Status export_record(sd_bus *bus, const std::string &checkpoint_id, std::string &record_out);
Status import_record(sd_bus *bus, std::string_view record, std::string &checkpoint_id_out);

// "unix:path=<path>" with the path escaped as D-Bus addresses want.
std::string unix_address(std::string_view socket_path);

} // namespace dbus_checkpoint::criu_plugin
