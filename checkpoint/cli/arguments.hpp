// SPDX-License-Identifier: GPL-2.0-or-later
// The command line: what to do, and the usage texts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bus-client/checkpoint_bus.hpp"

namespace dbus_checkpoint::cli {

enum class Subcommand { Checkpoint, Restore, List, Freeze, Thaw, Discard, Export, Migrate, Receive };

std::string to_string(Subcommand subcommand);  // "checkpoint", "list", ...
std::span<const Subcommand> all_subcommands();

// Which subcommands take an option: one bit a Subcommand.
using SubcommandSet = unsigned;
constexpr SubcommandSet only(Subcommand subcommand)
{
  return 1u << static_cast<unsigned>(subcommand);
}
inline constexpr SubcommandSet kEverySubcommand = ~0u;  // the common options

enum class OptionId {
  System, Address, Json, InPlace, KeepAcrossReboot, Pid, ImagesDir, Output, Criu, PluginDir,
  CriuTimeout, LazyPagesAbove, NoLazyPages, PageServer, Wait, Help,
  Version
};

// The one table of options: the parser (getopt_long), the usage texts and
// the tests read it.
struct OptionSpec {
  OptionId id;
  const char *long_name;   // without "--"
  char short_name;         // 0: none
  const char *value_name;  // "DIR"; nullptr for an option without a value
  SubcommandSet subcommands;
  const char *summary;  // its line in dbus-checkpoint --help
  const char *detail;   // its lines in SUBCOMMAND --help (nullptr: the summary)
};
std::span<const OptionSpec> option_table();
// "checkpoint and restore", "export": for "OPTION is an option of ...".
std::string subcommands_taking(const OptionSpec &option);

// Where checkpoint and restore find CRIU and our CRIU plugin unless told
// (--criu, --plugin-dir): fixed at build time (CMake's CRIU_EXECUTABLE and
// the directory the plugin is built into).
std::string default_criu_path();
std::string default_plugin_dir();

// restore restores with lazy pages (criu lazy-pages) when the images'
// memory pages (their pages-*.img files) add up to more than this, unless
// told otherwise (--lazy-pages-above SIZE, --no-lazy-pages).
inline constexpr std::uint64_t kDefaultLazyPagesAbove = 64ull << 20;

// How long receive waits for migrate's images unless told (--wait).
inline constexpr std::chrono::seconds kDefaultReceiveWait{600};

// "64M", "1G", "512K", "4096", "0": bytes (K, M, G, T are powers of 1024;
// "MiB" and "M" alike), or nullopt for anything else.
std::optional<std::uint64_t> parse_size(const std::string &text);

struct Invocation {
  enum class Request { Run, Help, Version };
  Request request = Request::Run;
  std::optional<Subcommand> subcommand;
  bus_client::BusAddress bus;
  bool json = false;
  bool in_place = false;     // freeze --in-place
  bool keep_across_reboot = false;  // checkpoint --keep-across-reboot
  std::string target;        // checkpoint, freeze: NAME; thaw, discard, export: ID
  std::string output_path;   // export -o FILE
  pid_t pid = 0;             // checkpoint --pid PID (0: not given)
  std::string images_dir;    // checkpoint, restore -D DIR
  std::string criu_path = default_criu_path();    // checkpoint, restore --criu PATH
  std::string plugin_dir = default_plugin_dir();  // checkpoint, restore --plugin-dir DIR
  // checkpoint, restore --criu-timeout SECONDS: criu is killed after this long
  std::chrono::seconds criu_timeout{120};
  // restore --lazy-pages-above SIZE (0: always), --no-lazy-pages (nullopt)
  std::optional<std::uint64_t> lazy_pages_above = kDefaultLazyPagesAbove;
  // migrate --page-server ADDRESS:PORT: where criu dump serves the pages
  std::string page_server_address;
  std::uint16_t page_server_port = 0;
  // receive --wait SECONDS: how long it waits for a migration to arrive
  std::chrono::seconds receive_wait{kDefaultReceiveWait};
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
