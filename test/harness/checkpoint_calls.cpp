// SPDX-License-Identifier: GPL-2.0-or-later
#include "checkpoint_calls.hpp"

#include <boost/test/unit_test.hpp>

#include "sample_service.hpp"

namespace dcp::test {

MethodCall bus_method(const char *interface, const char *member)
{
  return {"org.freedesktop.DBus", "/org/freedesktop/DBus", interface, member};
}

MethodCall checkpoint_method(const char *member)
{
  return bus_method(kCheckpointInterface, member);
}

MethodCall sample_method(const std::string &destination, const char *member,
                         std::chrono::milliseconds timeout)
{
  return {destination, kSampleObjectPath, kSampleInterface, member, timeout};
}

std::string freeze(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, checkpoint_method("Freeze"), "s", name.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), "Freeze " << name << ": " << r.describe());
  return read_string(r.reply.get());
}

void thaw(sd_bus *bus, const std::string &id)
{
  CallResult r = call(bus, checkpoint_method("Thaw"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), "Thaw " << id << ": " << r.describe());
}

void send_big_no_reply_calls(sd_bus *bus, const std::string &destination, unsigned count,
                             std::size_t payload_bytes)
{
  const std::vector<std::uint8_t> payload(payload_bytes, 0x5a);
  for (unsigned i = 0; i < count; ++i) {
    sd_bus_message *raw = nullptr;
    BOOST_REQUIRE(sd_bus_message_new_method_call(bus, &raw, destination.c_str(), kSampleObjectPath,
                                                 kSampleInterface, "Increment") >= 0);
    SdBusMessage message(raw);
    BOOST_REQUIRE(sd_bus_message_append_array(raw, 'y', payload.data(), payload.size()) >= 0);
    BOOST_REQUIRE(sd_bus_message_set_expect_reply(raw, 0) >= 0);
    BOOST_REQUIRE(sd_bus_send(bus, raw, nullptr) >= 0);
  }
  BOOST_REQUIRE(sd_bus_flush(bus) >= 0);
}

std::uint64_t sample_uint64(sd_bus *bus, const std::string &destination, const char *member)
{
  CallResult r = call(bus, sample_method(destination, member));
  BOOST_REQUIRE_MESSAGE(r.ok(), member << " on " << destination << ": " << r.describe());
  return read_uint64(r.reply.get());
}

bool is_checkpoint_id(const std::string &id)
{
  return id.size() == 32 &&
         id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string export_bytes(sd_bus *bus, const std::string &id)
{
  CallResult r = call(bus, checkpoint_method("Export"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), "Export: " << r.describe());
  const void *bytes = nullptr;
  size_t n_bytes = 0;
  BOOST_REQUIRE_GE(sd_bus_message_read_array(r.reply.get(), 'y', &bytes, &n_bytes), 0);
  return std::string(static_cast<const char *>(bytes), n_bytes);
}

std::vector<FrozenEntry> list_frozen(sd_bus *bus)
{
  CallResult r = call(bus, checkpoint_method("ListFrozen"));
  BOOST_REQUIRE_MESSAGE(r.ok(), "ListFrozen: " << r.describe());
  auto entries = dbus_checkpoint::bus_client::read_frozen_connections(r.reply.get());
  if (!entries.ok())  // (a message's operands are evaluated even when it passes)
    BOOST_FAIL("ListFrozen reply: " << entries.error().message);
  return std::move(entries.value());
}

std::vector<std::string> signal_args(const std::vector<SdBusMessage> &signals, const char *member)
{
  std::vector<std::string> out;
  for (const auto &s : signals) {
    if (std::string(sd_bus_message_get_member(s.get())) != member)
      continue;
    sd_bus_message_rewind(s.get(), 1);
    std::string name = read_string(s.get());
    std::string owner = read_string(s.get());
    out.push_back(name + " " + owner);
  }
  return out;
}

bool name_has_owner(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", "NameHasOwner"), "s", name.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  int has = 0;
  BOOST_REQUIRE_GE(sd_bus_message_read(r.reply.get(), "b", &has), 0);
  return has;
}

} // namespace dcp::test
