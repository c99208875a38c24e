// SPDX-License-Identifier: GPL-2.0-or-later
#include "raw-bus/raw_bus.hpp"

#include <cerrno>

namespace dbus_checkpoint::raw_bus {

using base::Error;
using base::failure;
using base::Status;

Message new_bus_call(const char *interface, const char *member)
{
  return Message(dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, interface, member));
}

Message new_reattach_call(const std::string &checkpoint_id, std::string_view unread,
                          const std::string &secret)
{
  Message m = new_bus_call("org.freedesktop.DBus.Checkpoint", "Reattach");
  if (!m)
    return m;
  DBusMessageIter args, options, entry, variant, bytes;
  const char *id = checkpoint_id.c_str();
  const char *key = "Unread";
  const char *data = unread.data();
  dbus_message_iter_init_append(m.get(), &args);
  bool built =
      dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &id) &&
      dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &options) &&
      dbus_message_iter_open_container(&options, DBUS_TYPE_DICT_ENTRY, nullptr, &entry) &&
      dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
      dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "ay", &variant) &&
      dbus_message_iter_open_container(&variant, DBUS_TYPE_ARRAY, "y", &bytes) &&
      dbus_message_iter_append_fixed_array(&bytes, DBUS_TYPE_BYTE, &data,
                                           static_cast<int>(unread.size())) &&
      dbus_message_iter_close_container(&variant, &bytes) &&
      dbus_message_iter_close_container(&entry, &variant) &&
      dbus_message_iter_close_container(&options, &entry);
  const char *secret_key = "Secret";
  const char *secret_value = secret.c_str();
  if (built && !secret.empty())
    built = dbus_message_iter_open_container(&options, DBUS_TYPE_DICT_ENTRY, nullptr, &entry) &&
            dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &secret_key) &&
            dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &variant) &&
            dbus_message_iter_append_basic(&variant, DBUS_TYPE_STRING, &secret_value) &&
            dbus_message_iter_close_container(&entry, &variant) &&
            dbus_message_iter_close_container(&options, &entry);
  built = built && dbus_message_iter_close_container(&args, &options);
  // A failed append leaves containers open; the message is unusable anyway.
  return built ? std::move(m) : Message();
}

Status marshal(DBusMessage *m, std::uint32_t serial, std::string &bytes_out)
{
  dbus_message_set_serial(m, serial);
  char *bytes = nullptr;
  int n = 0;
  if (!dbus_message_marshal(m, &bytes, &n))
    return failure(ENOMEM, "dbus_message_marshal: out of memory");
  std::unique_ptr<char, decltype(&dbus_free)> owned(bytes, &dbus_free);
  bytes_out.assign(bytes, static_cast<std::size_t>(n));
  return {};
}

Status demarshal(std::string_view bytes, Message &message_out)
{
  DBusError error = DBUS_ERROR_INIT;
  DBusMessage *m = dbus_message_demarshal(bytes.data(), static_cast<int>(bytes.size()), &error);
  if (m == nullptr) {
    std::string why = error.message ? error.message : "out of memory";
    dbus_error_free(&error);
    return failure(EPROTO, "cannot parse a message from the bus: " + why);
  }
  message_out.reset(m);
  return {};
}

Status check_method_return(DBusMessage *reply, std::uint32_t serial)
{
  if (dbus_message_get_reply_serial(reply) != serial)
    return failure(EPROTO, "the bus answered something else than call " + std::to_string(serial));
  int type = dbus_message_get_type(reply);
  if (type == DBUS_MESSAGE_TYPE_METHOD_RETURN)
    return {};
  if (type != DBUS_MESSAGE_TYPE_ERROR)
    return failure(EPROTO, "the bus answered call " + std::to_string(serial) +
                               " with a message of type " + std::to_string(type));
  const char *text = nullptr;
  DBusError ignored = DBUS_ERROR_INIT;
  if (!dbus_message_get_args(reply, &ignored, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID))
    text = "";
  dbus_error_free(&ignored);
  const std::string name = dbus_message_get_error_name(reply);
  return Error{name, text, name == DBUS_ERROR_ACCESS_DENIED ? EACCES : EIO};
}

} // namespace dbus_checkpoint::raw_bus
