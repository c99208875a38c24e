// The subcommands, each on a connected CheckpointBus; they return the
// process's exit status.
#pragma once

#include "bus-client/checkpoint_bus.hpp"
#include "cli/arguments.hpp"
#include "cli/report.hpp"

namespace dbus_checkpoint::cli {

int run_list(bus_client::CheckpointBus &bus, const Output &output);
int run_freeze(bus_client::CheckpointBus &bus, const Invocation &invocation, const Output &output);
int run_thaw(bus_client::CheckpointBus &bus, const Invocation &invocation, const Output &output);
int run_discard(bus_client::CheckpointBus &bus, const Invocation &invocation,
                const Output &output);
int run_export(bus_client::CheckpointBus &bus, const Invocation &invocation, const Output &output);

// Connects to the invocation's bus and runs its subcommand.
int run_subcommand(const Invocation &invocation, const Output &output);

} // namespace dbus_checkpoint::cli
