// The calls the plugin makes to org.freedesktop.DBus.Checkpoint over
// sd-bus, on the bus a dumped socket was connected to: which frozen
// connection owns a socket (ListFrozen's "socket_inode"), its record
// (Export), adopting a record on a bus that does not know it (Import).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bus-client/sd_bus_handles.hpp"
#include "raw-bus/raw_bus.hpp"

namespace dbus_checkpoint::criu_plugin {

using raw_bus::Status;

// Hello done: CRIU runs as root, which the bus's policy lets call the
// Checkpoint interface.
Status open_bus_at(const std::string &socket_path, bus_client::SdBus &bus_out);

struct FrozenSocket {
  std::string checkpoint_id;
  std::string unique_name;
  std::uint64_t socket_inode = 0;  // the bus's end; 0 when detached
};
Status list_frozen_sockets(sd_bus *bus, std::vector<FrozenSocket> &frozen_out);

Status export_record(sd_bus *bus, const std::string &checkpoint_id, std::string &record_out);
Status import_record(sd_bus *bus, std::string_view record, std::string &checkpoint_id_out);

// "unix:path=<path>" with the path escaped as D-Bus addresses want.
std::string unix_address(std::string_view socket_path);

} // namespace dbus_checkpoint::criu_plugin
