// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus_admin.hpp"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace dbus_checkpoint::criu_plugin {
namespace {

using bus_client::SdBusError;
using bus_client::SdBusMessage;

constexpr const char *kCheckpointInterface = "org.freedesktop.DBus.Checkpoint";

Status sd_bus_failure(const std::string &what, int negative_errno)
{
  return base::failure(-negative_errno, what + ": " + std::strerror(-negative_errno));
}

Status unreadable_reply(const char *member, int negative_errno)
{
  return sd_bus_failure(std::string("unexpected reply to ") + member, negative_errno);
}

// Sends `call` and waits for its reply; a D-Bus error becomes a failure
// that names it.
Status call_checkpoint(sd_bus *bus, sd_bus_message *call, const char *member, SdBusMessage &reply_out)
{
  SdBusError error;
  sd_bus_message *reply = nullptr;
  int r = sd_bus_call(bus, call, 0, error.get(), &reply);
  if (r >= 0) {
    reply_out.reset(reply);
    return {};
  }
  if (error.is_set())
    return base::failure(-r, std::string(member) + ": " + error.name() + ": " + error.message());
  return sd_bus_failure(member, r);
}

Status new_checkpoint_call(sd_bus *bus, const char *member, SdBusMessage &call_out)
{
  sd_bus_message *call = nullptr;
  int r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         kCheckpointInterface, member);
  if (r < 0)
    return sd_bus_failure(member, r);
  call_out.reset(call);
  return {};
}

} // namespace

std::string unix_address(std::string_view socket_path)
{
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string address = "unix:path=";
  for (unsigned char c : socket_path) {
    // The bytes the D-Bus specification lets stand unescaped.
    if (std::isalnum(c) || std::strchr("-_/.\\*", c) != nullptr) {
      address += static_cast<char>(c);
    } else {
      address += '%';
      address += kDigits[c >> 4];
      address += kDigits[c & 0xf];
    }
  }
  return address;
}

Status open_bus_at(const std::string &socket_path, bus_client::SdBus &bus_out)
{
  sd_bus *raw = nullptr;
  int r = sd_bus_new(&raw);
  if (r < 0)
    return sd_bus_failure("sd_bus_new", r);
  bus_client::SdBus bus(raw);
  const std::string address = unix_address(socket_path);
  const char *unique_name = nullptr;  // waits for Hello's reply
  if ((r = sd_bus_set_address(bus.get(), address.c_str())) < 0 ||
      (r = sd_bus_set_bus_client(bus.get(), 1)) < 0 || (r = sd_bus_start(bus.get())) < 0 ||
      (r = sd_bus_get_unique_name(bus.get(), &unique_name)) < 0)
    return sd_bus_failure("cannot connect to the bus at " + socket_path, r);
  bus_out = std::move(bus);
  return {};
}

Status release_unique_name(const std::string &socket_path, const std::string &unique_name,
                           raw_bus::Deadline deadline, bus_client::SdBus &bus)
{
  const char *own_name = nullptr;
  int r = sd_bus_get_unique_name(bus.get(), &own_name);
  if (r < 0)
    return sd_bus_failure("sd_bus_get_unique_name", r);
  if (unique_name != own_name)
    return {};
  // Connected while the old connection still holds the name: another one.
  bus_client::SdBus other;
  if (Status s = open_bus_at(socket_path, other); !s)
    return s;
  bus = std::move(other);
  // The bus drops the old connection when it reads its end; each call
  // here waits for the bus's answer, so this does not spin.
  for (;;) {
    SdBusError error;
    SdBusMessage reply;
    sd_bus_message *answer = nullptr;
    r = sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "NameHasOwner", error.get(), &answer, "s",
                           unique_name.c_str());
    reply.reset(answer);
    int has_owner = 0;
    if (r < 0 || (r = sd_bus_message_read(reply.get(), "b", &has_owner)) < 0)
      return sd_bus_failure("NameHasOwner " + unique_name, r);
    if (!has_owner)
      return {};
    if (std::chrono::steady_clock::now() >= deadline)
      return base::failure(ETIMEDOUT, "the bus did not release " + unique_name + " in time");
  }
}

Status list_frozen(sd_bus *bus, std::vector<bus_client::FrozenConnection> &frozen_out)
{
  SdBusMessage call, reply;
  if (Status s = new_checkpoint_call(bus, "ListFrozen", call); !s)
    return s;
  if (Status s = call_checkpoint(bus, call.get(), "ListFrozen", reply); !s)
    return s;
  auto frozen = bus_client::read_frozen_connections(reply.get());
  if (!frozen)
    return std::move(frozen).error();
  frozen_out = std::move(frozen).value();
  return {};
}

Status export_record(sd_bus *bus, const std::string &checkpoint_id, std::string &record_out)
{
  SdBusMessage call, reply;
  if (Status s = new_checkpoint_call(bus, "Export", call); !s)
    return s;
  int r = sd_bus_message_append(call.get(), "s", checkpoint_id.c_str());
  if (r < 0)
    return sd_bus_failure("Export", r);
  if (Status s = call_checkpoint(bus, call.get(), "Export", reply); !s)
    return s;
  const void *bytes = nullptr;
  std::size_t n_bytes = 0;
  if ((r = sd_bus_message_read_array(reply.get(), 'y', &bytes, &n_bytes)) < 0)
    return unreadable_reply("Export", r);
  record_out.assign(static_cast<const char *>(bytes), n_bytes);
  return {};
}

Status import_record(sd_bus *bus, std::string_view record, std::string &checkpoint_id_out)
{
  SdBusMessage call, reply;
  if (Status s = new_checkpoint_call(bus, "Import", call); !s)
    return s;
  int r = sd_bus_message_append_array(call.get(), 'y', record.data(), record.size());
  if (r < 0)
    return sd_bus_failure("Import", r);
  if (Status s = call_checkpoint(bus, call.get(), "Import", reply); !s)
    return s;
  const char *id = nullptr;
  if ((r = sd_bus_message_read(reply.get(), "s", &id)) < 0)
    return unreadable_reply("Import", r);
  checkpoint_id_out = id;
  return {};
}

} // namespace dbus_checkpoint::criu_plugin
