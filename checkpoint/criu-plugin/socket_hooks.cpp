// SPDX-License-Identifier: GPL-2.0-or-later
#include "socket_hooks.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "bus_admin.hpp"
#include "bus_socket.hpp"
#include "image_files.hpp"
#include "plugin_log.hpp"
#include "prepared_reattach.hpp"
#include "record_abi.hpp"

namespace dbus_checkpoint::criu_plugin {
namespace {

using Clock = std::chrono::steady_clock;

// For all of a socket's restore: Import (and the bus letting go of a
// unique name, see release_unique_name), the handshake, Reattach's answer.
constexpr std::chrono::seconds kReattachTimeout{10};

std::string socket_name(std::uint32_t socket_inode)
{
  return "socket " + std::to_string(socket_inode);
}

// A connection to the bus at bus_path, and what is frozen on it.
Status frozen_on_bus(const std::string &bus_path, bus_client::SdBus &bus_out,
                     std::vector<bus_client::FrozenConnection> &frozen_out)
{
  if (Status s = open_bus_at(bus_path, bus_out); !s)
    return s;
  return list_frozen(bus_out.get(), frozen_out);
}

// The bytes of Reattach(checkpoint_id, {"Unread": the record's unread
// bytes, "Secret": its secret}) as the first message of a socket.
Status reattach_call_bytes(const std::string &checkpoint_id, const DcpRecord *record,
                           std::string &call_bytes_out)
{
  const void *unread = nullptr;
  std::size_t n_unread = 0;
  dcp_record_get_unread_by_client(record, &unread, &n_unread);
  // the record's secret: only who holds the images may reattach
  raw_bus::Message call = raw_bus::new_reattach_call(
      checkpoint_id, std::string_view(static_cast<const char *>(unread), n_unread),
      dcp_record_get_reattach_secret(record));
  if (!call)
    return base::failure(ENOMEM, "cannot build the Reattach call");
  return raw_bus::marshal(call.get(), kReattachSerial, call_bytes_out);
}

Status dump_connection(int fd, std::uint32_t socket_inode, const std::string &bus_path, int images_dir)
{
  std::uint32_t bus_end = 0;
  if (Status s = peer_socket_inode(fd, socket_inode, bus_end); !s)
    return s;
  bus_client::SdBus bus;
  std::vector<bus_client::FrozenConnection> frozen;
  if (Status s = frozen_on_bus(bus_path, bus, frozen); !s)
    return s;
  auto owner = std::find_if(frozen.begin(), frozen.end(),
                            [&](const bus_client::FrozenConnection &f) { return f.socket_inode == bus_end; });
  if (owner == frozen.end())
    return base::failure(EBUSY, "bus connection of " + socket_name(socket_inode) +
                                       " is not frozen: freeze it first "
                                       "(dbus-checkpoint checkpoint does)");

  // Bytes the bus sent before the freeze that the client has not read:
  // CRIU does not restore a plugin socket's queue, so the bus sends them
  // again first after Thaw.
  std::string unread;
  if (Status s = raw_bus::peek_unread(fd, unread); !s)
    return s;
  std::string exported;
  if (Status s = export_record(bus.get(), owner->id, exported); !s)
    return s;
  Record record;
  if (Status s = parse_record(exported, record); !s)
    return s;
  if (int r = dcp_record_set_unread_by_client(record.get(), unread.data(), unread.size()); r < 0)
    return base::failure(-r, "cannot keep " + std::to_string(unread.size()) +
                                    " unread bytes in the record");
  std::string record_bytes;
  if (Status s = serialize_record(record.get(), record_bytes); !s)
    return s;
  if (Status s = write_image_file(images_dir, record_file_name(socket_inode), record_bytes); !s)
    return s;
  if (Status s = write_image_file(images_dir, bus_file_name(socket_inode), bus_path); !s)
    return s;
  // The restore sends these bytes as they are (prepared_reattach.hpp).
  std::string call_bytes;
  if (Status s = reattach_call_bytes(dcp_record_get_checkpoint_id(record.get()), record.get(), call_bytes); !s)
    return s;
  if (Status s = write_image_file(images_dir, reattach_file_name(socket_inode), call_bytes); !s)
    return s;
  log_info(socket_name(socket_inode) + " is " + owner->unique_name + " (checkpoint " +
           owner->id + ") on the bus at " + bus_path + ": " +
           std::to_string(unread.size()) + " unread bytes, record of " +
           std::to_string(record_bytes.size()) + " bytes");
  return {};
}

// The checkpoint id on this bus: the record's, Imported first if the bus
// does not know it (a bus restarted without the record, another host).
Status known_checkpoint_id(const std::string &bus_path, const std::string &record_bytes,
                           const DcpRecord *record, raw_bus::Deadline deadline,
                           std::string &checkpoint_id_out)
{
  checkpoint_id_out = dcp_record_get_checkpoint_id(record);
  bus_client::SdBus bus;
  std::vector<bus_client::FrozenConnection> frozen;
  if (Status s = frozen_on_bus(bus_path, bus, frozen); !s)
    return s;
  if (std::any_of(frozen.begin(), frozen.end(),
                  [&](const bus_client::FrozenConnection &f) { return f.id == checkpoint_id_out; }))
    return {};
  if (Status s = release_unique_name(bus_path, dcp_record_get_unique_name(record), deadline, bus); !s)
    return s;
  if (Status s = import_record(bus.get(), record_bytes, checkpoint_id_out); !s)
    return s;
  log_info("the bus at " + bus_path + " did not know checkpoint " +
           std::string(dcp_record_get_checkpoint_id(record)) + ": imported as " + checkpoint_id_out);
  return {};
}

// Reattach `checkpoint_id` on a new socket to the bus: the socket, once the
// bus answered.  `unknown_out`: the bus answered that it holds no such
// checkpoint (InvalidArgs), so the caller may Import the record first.
Status send_reattach(const std::string &bus_path, const std::string &checkpoint_id,
                     const DcpRecord *record, raw_bus::Deadline deadline,
                     raw_bus::UniqueFd &socket_out, bool &unknown_out)
{
  unknown_out = false;
  std::string call_bytes;
  if (Status s = reattach_call_bytes(checkpoint_id, record, call_bytes); !s)
    return s;

  raw_bus::UniqueFd socket;
  std::string reply_bytes;
  raw_bus::Message reply;
  // Exactly the reply: what follows it on the socket is the client's.
  Status s = raw_bus::send_first_message(bus_path, call_bytes, deadline, socket, reply_bytes);
  if (s)
    s = raw_bus::demarshal(reply_bytes, reply);
  if (s)
    s = raw_bus::check_method_return(reply.get(), kReattachSerial);
  if (!s) {
    unknown_out = reply && dbus_message_is_error(reply.get(), DBUS_ERROR_INVALID_ARGS);
    return base::failure(s.error().errno_value, "Reattach " + checkpoint_id + ": " + s.error().describe());
  }
  socket_out = std::move(socket);
  return {};
}

// Reattach first: the bus that froze the connection knows it (the common
// case costs one connection and one call).  Only a bus that does not (it
// restarted without the record, or this is another host) gets the record
// Imported, then the Reattach again.
Status reattach(const std::string &bus_path, const std::string &record_bytes,
                raw_bus::UniqueFd &socket_out)
{
  Record record;
  if (Status s = parse_record(record_bytes, record); !s)
    return s;
  const raw_bus::Deadline deadline = Clock::now() + kReattachTimeout;
  bool unknown = false;
  Status s = send_reattach(bus_path, dcp_record_get_checkpoint_id(record.get()), record.get(), deadline,
                           socket_out, unknown);
  if (s || !unknown)
    return s;
  std::string checkpoint_id;
  if (Status known = known_checkpoint_id(bus_path, record_bytes, record.get(), deadline, checkpoint_id);
      !known)
    return known;
  return send_reattach(bus_path, checkpoint_id, record.get(), deadline, socket_out, unknown);
}

} // namespace

int dump_bus_socket(int fd, std::uint32_t socket_inode, int images_dir)
{
  std::string bus_path;
  if (!peer_socket_path(fd, bus_path) || bus_path.empty())
    return -ENOTSUP;
  const auto started = Clock::now();
  // A session bus is known only from the environment of the processes
  // that hold the socket: looked for (in /proc) only when needed.
  if (!is_bus_socket(bus_path, known_bus_sockets()) &&
      !is_bus_socket(bus_path, bus_sockets_of_processes(processes_holding_socket(socket_inode))))
    return -ENOTSUP;
  if (Status s = dump_connection(fd, socket_inode, bus_path, images_dir); !s) {
    log_error(s.error().describe());
    return s.error().negative_errno();
  }
  log_info(socket_name(socket_inode) + " dumped in " + elapsed_ms(started));
  return 0;
}

int restore_bus_socket(std::uint32_t socket_inode, int images_dir)
{
  std::string record_bytes;
  Status s = read_image_file(images_dir, record_file_name(socket_inode), record_bytes);
  if (!s && s.error().errno_value == ENOENT)
    return -ENOTSUP;  // another plugin's socket
  const auto started = Clock::now();
  std::string bus_path;
  if (s)
    s = read_image_file(images_dir, bus_file_name(socket_inode), bus_path);
  // only to a bus we would have dumped from (the CLI names it to criu)
  if (s && !is_bus_socket(bus_path, known_bus_sockets()))
    s = base::failure(EPERM, bus_file_name(socket_inode) + " names " + bus_path +
                                    ", not a bus socket of this system (" +
                                    "DBUS_SYSTEM_BUS_ADDRESS or DBUS_CHECKPOINT_BUS_SOCKETS)");
  raw_bus::UniqueFd socket;
  if (s)
    s = reattach(bus_path, record_bytes, socket);
  if (!s) {
    log_error(socket_name(socket_inode) + " not restored: " + s.error().describe());
    return s.error().negative_errno();
  }
  log_info(socket_name(socket_inode) + " reattached to the bus at " + bus_path + " in " +
           elapsed_ms(started));
  return socket.release();
}

} // namespace dbus_checkpoint::criu_plugin
