// SPDX-License-Identifier: GPL-2.0-or-later
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

// checkpoint and restore: they check what they need (root, CRIU, the
// images directory) before they connect to the bus.
int run_checkpoint(const Invocation &invocation, const Output &output);
int run_restore(const Invocation &invocation, const Output &output);
// migrate: checkpoint with criu dump --lazy-pages, the pages served to the
// destination's receive (which restores there); receive: wait for such a
// checkpoint in DIR, then restore it.
int run_migrate(const Invocation &invocation, const Output &output);
int run_receive(const Invocation &invocation, const Output &output);

// Runs the invocation's subcommand (connected to its bus).
int run_subcommand(const Invocation &invocation, const Output &output);

} // namespace dbus_checkpoint::cli
