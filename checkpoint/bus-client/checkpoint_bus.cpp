// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus-client/checkpoint_bus.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

namespace dbus_checkpoint::bus_client {

using base::Error;
using base::errno_error;
using base::Result;

namespace {

constexpr const char *kBusName = "org.freedesktop.DBus";
constexpr const char *kBusPath = "/org/freedesktop/DBus";
constexpr const char *kBusInterface = "org.freedesktop.DBus";
constexpr const char *kCheckpointInterface = "org.freedesktop.DBus.Checkpoint";

Error reply_error(const std::string &what, const char *detail)
{
  return base::failure(EBADMSG, what + ": unexpected reply from the bus (" + detail + ")");
}

Result<SdBus> open_bus(const BusAddress &where)
{
  sd_bus *raw = nullptr;
  if (where.address.empty()) {
    int r = sd_bus_open_system(&raw);
    if (r < 0)
      return errno_error("cannot connect to the system bus", -r);
    return SdBus(raw);
  }
  int r = sd_bus_new(&raw);
  if (r < 0)
    return errno_error("sd_bus_new", -r);
  SdBus bus(raw);
  const std::string what = "cannot connect to " + where.address;
  if ((r = sd_bus_set_address(bus.get(), where.address.c_str())) < 0 ||
      (r = sd_bus_set_bus_client(bus.get(), 1)) < 0 || (r = sd_bus_start(bus.get())) < 0)
    return errno_error(what, -r);
  return bus;
}

// Reads one detail of ListFrozen's a{sv} (positioned at the variant) into
// the entry, or skips it if the key is not one we know.
int read_detail(sd_bus_message *message, std::string_view key, FrozenConnection &entry)
{
  if (key == "attached") {
    int attached = 0;
    int r = sd_bus_message_read(message, "v", "b", &attached);
    entry.attached = attached != 0;
    return r;
  }
  if (key == "since")
    return sd_bus_message_read(message, "v", "x", &entry.since_usec);
  if (key == "uid")
    return sd_bus_message_read(message, "v", "u", &entry.uid);
  if (key == "pid")
    return sd_bus_message_read(message, "v", "u", &entry.pid);
  if (key == "queued_messages")
    return sd_bus_message_read(message, "v", "u", &entry.queued_messages);
  if (key == "queued_bytes")
    return sd_bus_message_read(message, "v", "t", &entry.queued_bytes);
  if (key == "dropped_signals")
    return sd_bus_message_read(message, "v", "t", &entry.dropped_signals);
  if (key == "socket_inode")
    return sd_bus_message_read(message, "v", "t", &entry.socket_inode);
  return sd_bus_message_skip(message, "v");
}

int read_details(sd_bus_message *message, FrozenConnection &entry)
{
  int r = sd_bus_message_enter_container(message, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
    const char *key = nullptr;
    if ((r = sd_bus_message_read(message, "s", &key)) < 0 ||
        (r = read_detail(message, key, entry)) < 0)
      return r;
    r = sd_bus_message_exit_container(message);
  }
  return r < 0 ? r : sd_bus_message_exit_container(message);
}

// Appends the strings of an `as` to `names`.
int read_names(sd_bus_message *message, std::vector<std::string> &names)
{
  int r = sd_bus_message_enter_container(message, 'a', "s");
  const char *name = nullptr;
  while (r >= 0 && (r = sd_bus_message_read(message, "s", &name)) > 0)
    names.emplace_back(name);
  return r < 0 ? r : sd_bus_message_exit_container(message);
}

// One (ssasa{sv}); 0 at the end of the array.
int read_frozen_connection(sd_bus_message *message, FrozenConnection &entry)
{
  int r = sd_bus_message_enter_container(message, 'r', "ssasa{sv}");
  if (r <= 0)
    return r;
  const char *id = nullptr;
  const char *unique_name = nullptr;
  if ((r = sd_bus_message_read(message, "ss", &id, &unique_name)) < 0)
    return r;
  entry.id = id;
  entry.unique_name = unique_name;
  if ((r = read_names(message, entry.names)) < 0 || (r = read_details(message, entry)) < 0)
    return r;
  r = sd_bus_message_exit_container(message);
  return r < 0 ? r : 1;
}

} // namespace

Result<CheckpointBus> CheckpointBus::connect(const BusAddress &where)
{
  auto bus = open_bus(where);
  if (!bus)
    return bus.error();
  const char *unique_name = nullptr;  // waits for Hello's reply
  int r = sd_bus_get_unique_name(bus.value().get(), &unique_name);
  if (r < 0)
    return errno_error("cannot connect to " + where.describe(), -r);
  return CheckpointBus(std::move(bus).value(), unique_name);
}

Result<SdBusMessage> CheckpointBus::call_bus(const char *interface, const char *member,
                                             const char *argument)
{
  SdBusError error;
  sd_bus_message *reply = nullptr;
  int r = argument ? sd_bus_call_method(bus_.get(), kBusName, kBusPath, interface, member,
                                        error.get(), &reply, "s", argument)
                   : sd_bus_call_method(bus_.get(), kBusName, kBusPath, interface, member,
                                        error.get(), &reply, "");
  if (r >= 0)
    return SdBusMessage(reply);
  if (error.is_set() && !error.name().empty())
    return base::bus_error(error.name(), error.message());
  return errno_error(std::string(member), -r);
}

Result<std::string> CheckpointBus::freeze(const std::string &name)
{
  auto reply = call_bus(kCheckpointInterface, "Freeze", name.c_str());
  if (!reply)
    return reply.error();
  const char *id = nullptr;
  if (sd_bus_message_read(reply.value().get(), "s", &id) < 0)
    return reply_error("Freeze", "expected a string");
  return std::string(id);
}

Result<void> CheckpointBus::thaw(const std::string &checkpoint_id)
{
  auto reply = call_bus(kCheckpointInterface, "Thaw", checkpoint_id.c_str());
  if (!reply)
    return reply.error();
  return {};
}

Result<void> CheckpointBus::discard(const std::string &checkpoint_id)
{
  auto reply = call_bus(kCheckpointInterface, "Discard", checkpoint_id.c_str());
  if (!reply)
    return reply.error();
  return {};
}

Result<void> CheckpointBus::keep_across_reboot(const std::string &checkpoint_id, bool keep)
{
  SdBusError error;
  sd_bus_message *reply = nullptr;
  int r = sd_bus_call_method(bus_.get(), kBusName, kBusPath, kCheckpointInterface,
                             "KeepAcrossReboot", error.get(), &reply, "sb",
                             checkpoint_id.c_str(), static_cast<int>(keep));
  SdBusMessage owned(reply);
  if (r >= 0)
    return {};
  if (error.is_set() && !error.name().empty())
    return base::bus_error(error.name(), error.message());
  return errno_error("KeepAcrossReboot", -r);
}

Result<std::vector<std::uint8_t>> CheckpointBus::export_record(const std::string &checkpoint_id)
{
  auto reply = call_bus(kCheckpointInterface, "Export", checkpoint_id.c_str());
  if (!reply)
    return reply.error();
  const void *bytes = nullptr;
  std::size_t n_bytes = 0;
  if (sd_bus_message_read_array(reply.value().get(), 'y', &bytes, &n_bytes) < 0)
    return reply_error("Export", "expected a byte array");
  const auto *first = static_cast<const std::uint8_t *>(bytes);
  return std::vector<std::uint8_t>(first, first + n_bytes);
}

Result<std::vector<FrozenConnection>> CheckpointBus::list_frozen()
{
  auto reply = call_bus(kCheckpointInterface, "ListFrozen");
  if (!reply)
    return reply.error();
  return read_frozen_connections(reply.value().get());
}

Result<std::vector<FrozenConnection>> read_frozen_connections(sd_bus_message *message)
{
  std::vector<FrozenConnection> entries;
  int r = sd_bus_message_enter_container(message, 'a', "(ssasa{sv})");
  while (r >= 0) {
    FrozenConnection entry;
    if ((r = read_frozen_connection(message, entry)) <= 0)
      break;
    entries.push_back(std::move(entry));
  }
  if (r < 0)
    return reply_error("ListFrozen", std::strerror(-r));
  return entries;
}

Result<std::uint32_t> CheckpointBus::connection_pid(const std::string &name)
{
  auto reply = call_bus(kBusInterface, "GetConnectionUnixProcessID", name.c_str());
  if (!reply)
    return reply.error();
  std::uint32_t pid = 0;
  if (sd_bus_message_read(reply.value().get(), "u", &pid) < 0)
    return reply_error("GetConnectionUnixProcessID", "expected a uint32");
  return pid;
}

Result<std::vector<std::string>> CheckpointBus::list_names()
{
  auto reply = call_bus(kBusInterface, "ListNames");
  if (!reply)
    return reply.error();
  std::vector<std::string> names;
  if (read_names(reply.value().get(), names) < 0)
    return reply_error("ListNames", "expected a string array");
  return names;
}

Result<std::string> CheckpointBus::name_owner(const std::string &name)
{
  auto reply = call_bus(kBusInterface, "GetNameOwner", name.c_str());
  if (!reply)
    return reply.error();
  const char *owner = nullptr;
  if (sd_bus_message_read(reply.value().get(), "s", &owner) < 0)
    return reply_error("GetNameOwner", "expected a string");
  return std::string(owner);
}

} // namespace dbus_checkpoint::bus_client
