#include "cli/arguments.hpp"

#include <algorithm>
#include <array>

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

constexpr std::array kSubcommands = {
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
    "Freeze and thaw D-Bus connections through the bus's\n"
    "org.freedesktop.DBus.Checkpoint interface (dbus-checkpoint's patched dbus-daemon).\n"
    "\n"
    "Commands:\n"
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
    "  -h, --help                show this help; COMMAND --help shows that command's\n"
    "  --version                 show the version\n"
    "\n"
    "Data (ids, the list, JSON) goes to stdout; what was done, with timings, to\n"
    "stderr. Exit status: 0 success, 1 failure (with the bus's error name and\n"
    "message), 2 usage error.\n";

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

    if (option == "--address" || option == "-o" || option == "--output") {
      std::string value;
      if (!take_value(option, inline_value, value))
        return;
      (option == "--address" ? invocation_.bus.address : invocation_.output_path) = value;
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
    const std::string name = spec.name;
    if (spec.target && invocation_.target.empty())
      return fail(name + ": missing " + spec.target);
    if (invocation_.in_place && spec.subcommand != Subcommand::Freeze)
      return fail(name + ": --in-place is an option of freeze");
    if (!invocation_.output_path.empty() && spec.subcommand != Subcommand::Export)
      return fail(name + ": -o is an option of export");
    if (spec.subcommand == Subcommand::Export && invocation_.output_path.empty())
      return fail("export: missing -o FILE");
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
  return std::string(spec_of(subcommand).usage) + kCommonOptions;
}

std::string usage_for(const std::optional<Subcommand> &subcommand)
{
  return subcommand ? subcommand_usage(*subcommand) : program_usage();
}

} // namespace dbus_checkpoint::cli
