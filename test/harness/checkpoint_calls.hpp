// SPDX-License-Identifier: GPL-2.0-or-later
// Calls to org.freedesktop.DBus.Checkpoint and the sample services, for
// tests: each REQUIREs success where its name says it does.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "bus-client/checkpoint_bus.hpp"

namespace dcp::test {

inline constexpr const char *kNameFrozen = "org.freedesktop.DBus.Error.NameFrozen";
inline constexpr const char *kCheckpointInterface = "org.freedesktop.DBus.Checkpoint";

MethodCall bus_method(const char *interface, const char *member);
MethodCall checkpoint_method(const char *member);
MethodCall sample_method(const std::string &destination, const char *member,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::string freeze(sd_bus *bus, const std::string &name);  // the checkpoint id
void thaw(sd_bus *bus, const std::string &id);
std::uint64_t sample_uint64(sd_bus *bus, const std::string &destination, const char *member);
bool is_checkpoint_id(const std::string &id);
bool name_has_owner(sd_bus *bus, const std::string &name);
// Queues `count` NO_REPLY Increment calls of `payload_bytes` each (a byte
// array) for the sample service `destination`, flushed.
void send_big_no_reply_calls(sd_bus *bus, const std::string &destination, unsigned count,
                             std::size_t payload_bytes);

// One ListFrozen entry, as the product reads it (checkpoint/bus-client).
using FrozenEntry = dbus_checkpoint::bus_client::FrozenConnection;
std::vector<FrozenEntry> list_frozen(sd_bus *bus);
// The bytes of Export(id).
std::string export_bytes(sd_bus *bus, const std::string &id);

// "name owner" of each NameFrozen or NameThawed signal (member) received.
std::vector<std::string> signal_args(const std::vector<SdBusMessage> &signals, const char *member);

} // namespace dcp::test
