// SPDX-License-Identifier: GPL-2.0-or-later
// dbus-checkpoint: the command-line tool for the bus's
// org.freedesktop.DBus.Checkpoint interface (list, freeze [--in-place],
// thaw, discard, export).  See `dbus-checkpoint --help`.
#include <iostream>
#include <string>
#include <vector>

#include <dbus-checkpoint/version.hpp>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"

using namespace dbus_checkpoint::cli;

int main(int argc, char **argv)
{
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  const ParsedArguments parsed = parse_arguments(arguments);
  const Invocation &invocation = parsed.invocation;

  if (!parsed.usage_error.empty()) {
    std::cerr << "dbus-checkpoint: " << parsed.usage_error << "\n\n"
              << usage_for(invocation.subcommand);
    return kExitUsage;
  }
  switch (invocation.request) {
  case Invocation::Request::Help:
    std::cout << usage_for(invocation.subcommand);
    return kExitSuccess;
  case Invocation::Request::Version:
    std::cout << "dbus-checkpoint " << dbus_checkpoint::kVersion << "\n";
    return kExitSuccess;
  case Invocation::Request::Run:
    break;
  }
  return run_subcommand(invocation, Output{invocation.json, std::cout, std::cerr});
}
