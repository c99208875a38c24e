// The command line: what to do, and the usage texts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bus-client/checkpoint_bus.hpp"

namespace dbus_checkpoint::cli {

enum class Subcommand { List, Freeze, Thaw, Discard, Export };

std::string to_string(Subcommand subcommand);  // "list", "freeze", ...

struct Invocation {
  enum class Request { Run, Help, Version };
  Request request = Request::Run;
  std::optional<Subcommand> subcommand;
  bus_client::BusAddress bus;
  bool json = false;
  bool in_place = false;     // freeze --in-place
  std::string target;        // freeze: NAME; thaw, discard, export: ID
  std::string output_path;   // export -o FILE
};

struct ParsedArguments {
  Invocation invocation;
  std::string usage_error;  // empty when the command line is fine
};

// `arguments` without the program name.
ParsedArguments parse_arguments(const std::vector<std::string> &arguments);

// The program's usage (--help), and each subcommand's (SUBCOMMAND --help).
std::string program_usage();
std::string subcommand_usage(Subcommand subcommand);
std::string usage_for(const std::optional<Subcommand> &subcommand);

} // namespace dbus_checkpoint::cli
