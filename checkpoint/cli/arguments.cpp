// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/arguments.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace dbus_checkpoint::cli {
namespace {

struct SubcommandSpec {
  Subcommand subcommand;
  const char *name;
  const char *target;  // its one argument, or nullptr
  const char *usage;   // SUBCOMMAND --help
};

constexpr const char *kCommonOptions =
    "\nCommon options: --system, --address ADDRESS, --json (see dbus-checkpoint --help).\n";

constexpr const char *kCriuOptions =
    "\n"
    "  --criu PATH           the criu to run; default (chosen at build time):\n"
    "                        " DCP_DEFAULT_CRIU "\n"
    "  --plugin-dir DIR      where CRIU loads dbus-checkpoint's plugin from (criu -L);\n"
    "                        default " DCP_DEFAULT_PLUGIN_DIR "\n"
    "  --criu-timeout SECONDS\n"
    "                        kill criu if it has not finished after SECONDS\n"
    "                        (1-3600, default 120); the failure is handled as any other\n"
    "\n"
    "Before anything is frozen, `criu --version` must answer within 5 s with 4.2 or\n"
    "newer: CRIU < 4.2 hangs in every dump where hardware breakpoints are not\n"
    "virtualized (most VMs) and cannot dump inet sockets on kernels >= 6.16.\n"
    "Its answer is kept in /run/dbus-checkpoint/criu-version for the same file.\n";

constexpr std::array kSubcommands = {
    SubcommandSpec{Subcommand::Checkpoint, "checkpoint", "NAME",
                   "Usage: dbus-checkpoint checkpoint NAME|--pid PID -D DIR\n"
                   "\n"
                   "Checkpoint a service with CRIU, keeping its bus connection for the restore.\n"
                   "The process is the owner of NAME (GetConnectionUnixProcessID), or PID; with\n"
                   "its descendants (/proc) it makes the tree that CRIU dumps. Every bus\n"
                   "connection of that tree is frozen first (callers get\n"
                   "org.freedesktop.DBus.Error.NameFrozen from then on), then\n"
                   "  criu dump -t PID -D DIR -L PLUGIN_DIR -v4 -o dump.log\n"
                   "runs; our plugin stores each connection's record and unread bytes with the\n"
                   "images, and the process ends. The connections stay on the bus, frozen and\n"
                   "detached, holding their names until restore. DIR (created if missing) gets\n"
                   "dbus-checkpoint.json: pid, bus, checkpoint ids, names, timings. The\n"
                   "checkpoint ids go to stdout, what was done with timings to stderr.\n"
                   "\n"
                   "If anything fails, the connections this command froze are thawed again and\n"
                   "the service keeps running with its names; the error comes with the last\n"
                   "lines of DIR/dump.log. Runs as root.\n"
                   "\n"
                   "  --pid PID             checkpoint the process PID instead of NAME's owner\n"
                   "  -D, --images-dir DIR  where the images go (must not hold a checkpoint)\n"},
    SubcommandSpec{Subcommand::Restore, "restore", nullptr,
                   "Usage: dbus-checkpoint restore -D DIR\n"
                   "\n"
                   "Restore a checkpoint that dbus-checkpoint checkpoint wrote into DIR. Waits\n"
                   "(at most 10 s) until the dumped processes have left /proc (CRIU gives them\n"
                   "their old pids), then runs\n"
                   "  criu restore -D DIR -L PLUGIN_DIR -d -v4 -o restore.log\n"
                   "whose plugin puts each process back into its original bus connection (same\n"
                   "unique name, names, match rules; a bus that lost the record, or another\n"
                   "host's, Imports it from the images first), then thaws each connection:\n"
                   "the messages queued meanwhile are delivered, callers are answered again.\n"
                   "Prints the timings (wait, restore, thaw, total) to stderr.\n"
                   "\n"
                   "Refused when not root, when DIR was restored already, or when a name of\n"
                   "the checkpoint is owned by another connection now. If CRIU fails, the\n"
                   "error comes with the last lines of DIR/restore.log; the images are kept.\n"
                   "\n"
                   "  -D, --images-dir DIR  the checkpoint's directory\n"},
    SubcommandSpec{Subcommand::List, "list", nullptr,
                   "Usage: dbus-checkpoint list\n"
                   "\n"
                   "List the frozen connections: checkpoint id, unique name, well-known names,\n"
                   "whether its process still has the socket (attached), since when (local time\n"
                   "and age), pid, uid, queued messages and bytes, dropped signals, and the\n"
                   "processes freeze --in-place stopped.\n"},
    SubcommandSpec{Subcommand::Freeze, "freeze", "NAME",
                   "Usage: dbus-checkpoint freeze [--in-place] NAME\n"
                   "\n"
                   "Freeze the connection that owns NAME (a well-known or unique bus name) and\n"
                   "print its checkpoint id. Callers of its names get\n"
                   "org.freedesktop.DBus.Error.NameFrozen at once; messages for it are queued\n"
                   "until thaw. Freezing a frozen connection prints its id again.\n"
                   "\n"
                   "  --in-place   after the bus freeze, also stop the process that owns NAME\n"
                   "               (org.freedesktop.DBus.GetConnectionUnixProcessID) and its\n"
                   "               descendants: with the cgroup v2 freezer when they are alone in\n"
                   "               their cgroup, otherwise with SIGSTOP. thaw ID resumes them.\n"},
    SubcommandSpec{Subcommand::Thaw, "thaw", "ID",
                   "Usage: dbus-checkpoint thaw ID\n"
                   "\n"
                   "Resume the frozen connection ID: processes that freeze --in-place stopped are\n"
                   "resumed first, then the bus delivers the queued messages in order.\n"},
    SubcommandSpec{Subcommand::Discard, "discard", "ID",
                   "Usage: dbus-checkpoint discard ID\n"
                   "\n"
                   "Give up the frozen connection ID: the bus releases its names, drops its\n"
                   "queued messages and closes it. Processes that freeze --in-place stopped are\n"
                   "resumed afterwards.\n"},
    SubcommandSpec{Subcommand::Export, "export", "ID",
                   "Usage: dbus-checkpoint export ID -o FILE\n"
                   "\n"
                   "Write the record of the frozen connection ID (its state, serialized as the\n"
                   "bus's Export returns it) to FILE, created with mode 0600.\n"
                   "\n"
                   "  -o, --output FILE   where to write the record (required)\n"},
};

constexpr const char *kProgramUsage =
    "Usage: dbus-checkpoint [OPTION...] COMMAND [ARGUMENT...]\n"
    "\n"
    "Checkpoint a D-Bus service with CRIU and restore it into its original bus\n"
    "connection; freeze and thaw connections. Works through the bus's\n"
    "org.freedesktop.DBus.Checkpoint interface (dbus-checkpoint's patched dbus-daemon).\n"
    "\n"
    "Commands:\n"
    "  checkpoint NAME|--pid PID -D DIR\n"
    "                            freeze every bus connection of the process (NAME's\n"
    "                            owner, or PID) and its descendants, dump them with\n"
    "                            CRIU into DIR; on failure thaw, service keeps running\n"
    "  restore -D DIR            wait for the dumped pids to be free, restore with\n"
    "                            CRIU into the same bus connections, thaw them\n"
    "  list                      list the frozen connections\n"
    "  freeze [--in-place] NAME  freeze the connection that owns NAME, print its id;\n"
    "                            --in-place also stops its process and descendants\n"
    "  thaw ID                   resume a frozen connection (and its stopped processes)\n"
    "  discard ID                give up a frozen connection: its names are released\n"
    "  export ID -o FILE         write the frozen connection's record to FILE\n"
    "\n"
    "Options:\n"
    "  --system                  use the system bus (the default)\n"
    "  --address ADDRESS         use the bus at ADDRESS (e.g. unix:path=/run/dbus/x)\n"
    "  --json                    print one JSON object on stdout instead of text\n"
    "  --criu PATH               checkpoint, restore: the criu to run\n"
    "  --plugin-dir DIR          checkpoint, restore: where CRIU finds our plugin\n"
    "  --criu-timeout SECONDS    checkpoint, restore: kill criu after SECONDS (120)\n"
    "  -h, --help                show this help; COMMAND --help shows that command's\n"
    "  --version                 show the version\n"
    "\n"
    "checkpoint and restore run as root. Data (ids, the list, JSON) goes to\n"
    "stdout; what was done, with timings, to stderr. Exit status: 0 success,\n"
    "1 failure (with the bus's error name and message, or CRIU's log), 2 usage error.\n";

bool runs_criu(Subcommand subcommand)
{
  return subcommand == Subcommand::Checkpoint || subcommand == Subcommand::Restore;
}

const SubcommandSpec &spec_of(Subcommand subcommand)
{
  return *std::find_if(kSubcommands.begin(), kSubcommands.end(),
                       [&](const SubcommandSpec &spec) { return spec.subcommand == subcommand; });
}

const SubcommandSpec *find_subcommand(const std::string &name)
{
  auto found = std::find_if(kSubcommands.begin(), kSubcommands.end(),
                            [&](const SubcommandSpec &spec) { return name == spec.name; });
  return found == kSubcommands.end() ? nullptr : &*found;
}

// Walks the arguments; options may come before or after the subcommand.
class Parser {
 public:
  explicit Parser(const std::vector<std::string> &arguments) : arguments_(arguments) {}

  ParsedArguments parse()
  {
    for (next_ = 0; next_ < arguments_.size() && error_.empty();) {
      const std::string &argument = arguments_[next_++];
      if (!options_ended_ && argument.size() > 1 && argument[0] == '-')
        parse_option(argument);
      else
        parse_word(argument);
    }
    if (error_.empty() && invocation_.request == Invocation::Request::Run)
      check_complete();
    return {invocation_, error_};
  }

 private:
  void parse_option(const std::string &argument)
  {
    if (argument == "--") {
      options_ended_ = true;
      return;
    }
    auto equals = argument.find('=');
    const std::string option = argument.substr(0, equals);
    std::optional<std::string> inline_value;
    if (equals != std::string::npos && option.starts_with("--"))
      inline_value = argument.substr(equals + 1);
    else if (equals != std::string::npos)
      return fail("unknown option '" + argument + "'");

    if (std::string *field = value_field(option)) {
      std::string value;
      if (!take_value(option, inline_value, value))
        return;
      *field = value;
      value_options_.push_back(option);
      return;
    }
    if (inline_value)
      return fail("option '" + option + "' takes no value");
    if (option == "--system")
      invocation_.bus.address.clear();
    else if (option == "--json")
      invocation_.json = true;
    else if (option == "--in-place")
      invocation_.in_place = true;
    else if (option == "-h" || option == "--help")
      invocation_.request = Invocation::Request::Help;
    else if (option == "--version")
      invocation_.request = Invocation::Request::Version;
    else
      fail("unknown option '" + option + "'");
  }

  // Where the value of an option that takes one goes; null for the others.
  std::string *value_field(const std::string &option)
  {
    if (option == "--address")
      return &invocation_.bus.address;
    if (option == "-o" || option == "--output")
      return &invocation_.output_path;
    if (option == "--pid")
      return &pid_text_;
    if (option == "-D" || option == "--images-dir")
      return &invocation_.images_dir;
    if (option == "--criu")
      return &invocation_.criu_path;
    if (option == "--plugin-dir")
      return &invocation_.plugin_dir;
    if (option == "--criu-timeout")
      return &criu_timeout_text_;
    return nullptr;
  }

  bool take_value(const std::string &option, const std::optional<std::string> &inline_value,
                  std::string &value)
  {
    if (inline_value) {
      value = *inline_value;
    } else if (next_ < arguments_.size()) {
      value = arguments_[next_++];
    } else {
      fail("option '" + option + "' needs a value");
      return false;
    }
    if (value.empty())
      fail("option '" + option + "' needs a value");
    return !value.empty();
  }

  void parse_word(const std::string &word)
  {
    if (!invocation_.subcommand) {
      const SubcommandSpec *spec = find_subcommand(word);
      if (!spec)
        return fail("unknown command '" + word + "'");
      invocation_.subcommand = spec->subcommand;
      return;
    }
    if (!spec_of(*invocation_.subcommand).target || !invocation_.target.empty())
      return fail("unexpected argument '" + word + "'");
    invocation_.target = word;
  }

  void check_complete()
  {
    if (!invocation_.subcommand)
      return fail("no command given");
    const SubcommandSpec &spec = spec_of(*invocation_.subcommand);
    const Subcommand subcommand = spec.subcommand;
    const std::string name = spec.name;
    for (const std::string &option : value_options_)
      if (const char *owner = option_owner(option); owner && !allows(subcommand, option))
        return fail(name + ": " + option + " is an option of " + owner);
    if (invocation_.in_place && subcommand != Subcommand::Freeze)
      return fail(name + ": --in-place is an option of freeze");
    if (!criu_timeout_text_.empty()) {
      unsigned seconds = 0;
      const char *text_end = criu_timeout_text_.data() + criu_timeout_text_.size();
      auto [end, error] = std::from_chars(criu_timeout_text_.data(), text_end, seconds);
      if (error != std::errc() || end != text_end || seconds < 1 || seconds > 3600)
        return fail(name + ": --criu-timeout needs whole seconds from 1 to 3600, not '" +
                    criu_timeout_text_ + "'");
      invocation_.criu_timeout = std::chrono::seconds(seconds);
    }
    if (subcommand == Subcommand::Checkpoint)
      return check_checkpoint_target();
    if (spec.target && invocation_.target.empty())
      return fail(name + ": missing " + spec.target);
    if (subcommand == Subcommand::Export && invocation_.output_path.empty())
      return fail("export: missing -o FILE");
    if (subcommand == Subcommand::Restore && invocation_.images_dir.empty())
      return fail("restore: missing -D DIR");
  }

  // The subcommands an option with a value belongs to, for the message;
  // null for the common ones.
  static const char *option_owner(const std::string &option)
  {
    if (option == "-o" || option == "--output")
      return "export";
    if (option == "--pid")
      return "checkpoint";
    if (option == "--address")
      return nullptr;
    return "checkpoint and restore";
  }

  static bool allows(Subcommand subcommand, const std::string &option)
  {
    if (option == "-o" || option == "--output")
      return subcommand == Subcommand::Export;
    if (option == "--pid")
      return subcommand == Subcommand::Checkpoint;
    return runs_criu(subcommand);
  }

  // checkpoint takes NAME or --pid PID, not both, and -D DIR.
  void check_checkpoint_target()
  {
    if (!pid_text_.empty()) {
      if (!invocation_.target.empty())
        return fail("checkpoint: give NAME or --pid PID, not both");
      auto [end, error] = std::from_chars(pid_text_.data(), pid_text_.data() + pid_text_.size(),
                                          invocation_.pid);
      if (error != std::errc() || end != pid_text_.data() + pid_text_.size() ||
          invocation_.pid <= 1)
        return fail("checkpoint: --pid needs a process id above 1, not '" + pid_text_ + "'");
    } else if (invocation_.target.empty()) {
      return fail("checkpoint: missing NAME or --pid PID");
    }
    if (invocation_.images_dir.empty())
      return fail("checkpoint: missing -D DIR");
  }

  void fail(const std::string &message)
  {
    if (error_.empty())
      error_ = message;
  }

  const std::vector<std::string> &arguments_;
  std::size_t next_ = 0;
  bool options_ended_ = false;
  Invocation invocation_;
  std::string pid_text_;                    // --pid's value, checked at the end
  std::string criu_timeout_text_;           // --criu-timeout's value, likewise
  std::vector<std::string> value_options_;  // the options with a value given
  std::string error_;
};

} // namespace

std::string to_string(Subcommand subcommand)
{
  return spec_of(subcommand).name;
}

ParsedArguments parse_arguments(const std::vector<std::string> &arguments)
{
  return Parser(arguments).parse();
}

std::string program_usage()
{
  return kProgramUsage;
}

std::string subcommand_usage(Subcommand subcommand)
{
  return std::string(spec_of(subcommand).usage) + (runs_criu(subcommand) ? kCriuOptions : "") +
         kCommonOptions;
}

std::string default_criu_path()
{
  return DCP_DEFAULT_CRIU;
}

std::string default_plugin_dir()
{
  return DCP_DEFAULT_PLUGIN_DIR;
}

std::string usage_for(const std::optional<Subcommand> &subcommand)
{
  return subcommand ? subcommand_usage(*subcommand) : program_usage();
}

} // namespace dbus_checkpoint::cli
