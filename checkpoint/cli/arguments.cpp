// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/arguments.hpp"

#include <getopt.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace dbus_checkpoint::cli {
namespace {

struct SubcommandSpec {
  Subcommand subcommand;
  const char *name;
  const char *target;  // its one argument, or nullptr
  const char *usage;   // SUBCOMMAND --help, before its options
};

constexpr SubcommandSet kRunsCriu = only(Subcommand::Checkpoint) | only(Subcommand::Restore) |
                                   only(Subcommand::Migrate) | only(Subcommand::Receive);
// The subcommands that dump a process tree: NAME or --pid PID, and -D DIR.
constexpr SubcommandSet kDumps = only(Subcommand::Checkpoint) | only(Subcommand::Migrate);

// The one table: which subcommand takes which option.  Options may come
// before or after the subcommand.
constexpr std::array kOptions = {
    OptionSpec{OptionId::System, "system", 0, nullptr, kEverySubcommand,
               "use the system bus (the default)", nullptr},
    OptionSpec{OptionId::Address, "address", 0, "ADDRESS", kEverySubcommand,
               "use the bus at ADDRESS (e.g. unix:path=/run/dbus/x)", nullptr},
    OptionSpec{OptionId::Json, "json", 0, nullptr, kEverySubcommand,
               "print one JSON object on stdout instead of text", nullptr},
    OptionSpec{OptionId::InPlace, "in-place", 0, nullptr, only(Subcommand::Freeze),
               "also stop the process and its descendants",
               "after the bus freeze, also stop the process that owns NAME\n"
               "(org.freedesktop.DBus.GetConnectionUnixProcessID) and its\n"
               "descendants: with the cgroup v2 freezer when they are alone in\n"
               "their cgroup, otherwise with SIGSTOP. thaw ID resumes them."},
    OptionSpec{OptionId::Pid, "pid", 0, "PID", kDumps,
               "PID instead of NAME's owner",
               "the process PID instead of NAME's owner"},
    OptionSpec{OptionId::KeepAcrossReboot, "keep-across-reboot", 0, nullptr,
               only(Subcommand::Checkpoint), "the bus holds the connections also after a reboot",
               "ask each bus to keep the connections' records across a reboot\n"
               "(KeepAcrossReboot): its next start restores them, frozen, so\n"
               "they hold their names until restore. Without it a record of\n"
               "another boot is set aside at start-up. Implied for a systemd\n"
               "service whose drop-in outlives a reboot (DIR not under /run)."},
    OptionSpec{OptionId::ImagesDir, "images-dir", 'D', "DIR", kRunsCriu,
               "the checkpoint's directory",
               "the checkpoint's directory: checkpoint and migrate put the\n"
               "images there (it must not hold a checkpoint yet), restore and\n"
               "receive read them"},
    OptionSpec{OptionId::Output, "output", 'o', "FILE", only(Subcommand::Export),
               "where to write the record", "where to write the record (required)"},
    OptionSpec{OptionId::Criu, "criu", 0, "PATH", kRunsCriu, "the criu to run",
               "the criu to run; default (chosen at build time):\n" DCP_DEFAULT_CRIU},
    OptionSpec{OptionId::PluginDir, "plugin-dir", 0, "DIR", kRunsCriu,
               "where CRIU finds our plugin",
               "where CRIU loads dbus-checkpoint's plugin from (criu -L);\n"
               "default " DCP_DEFAULT_PLUGIN_DIR},
    OptionSpec{OptionId::CriuTimeout, "criu-timeout", 0, "SECONDS", kRunsCriu,
               "kill criu after SECONDS (120)",
               "kill criu if it has not finished after SECONDS\n"
               "(1-3600, default 120); the failure is handled as any other"},
    OptionSpec{OptionId::LazyPagesAbove, "lazy-pages-above", 0, "SIZE", only(Subcommand::Restore),
               "lazy pages above SIZE of pages (64M)",
               "restore with lazy pages (criu lazy-pages serves the memory\n"
               "through userfaultfd) when the images' pages add up to more\n"
               "than SIZE: bytes, or with K, M, G (powers of 1024); 0 = always;\n"
               "default 64M. The command waits until every page is in."},
    OptionSpec{OptionId::NoLazyPages, "no-lazy-pages", 0, nullptr, only(Subcommand::Restore),
               "copy every page before the service runs",
               "never use lazy pages: criu restore copies every page before\n"
               "the service runs (as for any size below --lazy-pages-above)"},
    OptionSpec{OptionId::PageServer, "page-server", 0, "ADDRESS:PORT", only(Subcommand::Migrate),
               "serve the pages from ADDRESS:PORT",
               "criu dump serves the memory pages from its page server on\n"
               "ADDRESS:PORT, an address of this host that the destination\n"
               "reaches (192.0.2.1:27000, [2001:db8::1]:27000); required"},
    OptionSpec{OptionId::Wait, "wait", 0, "SECONDS", only(Subcommand::Receive),
               "wait SECONDS for a migration (600)",
               "how long to wait for migrate's images to arrive in DIR\n"
               "(1-86400, default 600)"},
    OptionSpec{OptionId::Help, "help", 'h', nullptr, kEverySubcommand,
               "show this help; COMMAND --help shows that command's", nullptr},
    OptionSpec{OptionId::Version, "version", 0, nullptr, kEverySubcommand, "show the version",
               nullptr},
};

constexpr const char *kCriuVersionNote =
    "\n"
    "Before anything is frozen, `criu --version` must answer within 5 s with 4.2 or\n"
    "newer: CRIU < 4.2 hangs in every dump where hardware breakpoints are not\n"
    "virtualized (most VMs) and cannot dump inet sockets on kernels >= 6.16.\n"
    "Its answer is kept in /run/dbus-checkpoint/criu-version for the same file.\n";

constexpr std::array kSubcommands = {
    SubcommandSpec{Subcommand::Checkpoint, "checkpoint", "NAME",
                   "Usage: dbus-checkpoint checkpoint [--keep-across-reboot] NAME|--pid PID -D DIR\n"
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
                   "When the process is the main process of a systemd service, the unit's start\n"
                   "becomes the restore first: a drop-in UNIT.d/zz-dbus-checkpoint.conf (in\n"
                   "/run/systemd/system when DIR is under /run, else /etc/systemd/system, so\n"
                   "that the checkpoint survives a reboot) makes the dump's SIGKILL a clean stop\n"
                   "(not failed, not restarted) and ExecStart= this restore; systemd starting\n"
                   "the unit (systemctl start, or at boot) restores it. A service in its unit's\n"
                   "sandbox (mount and network namespaces of its own: ProtectSystem=,\n"
                   "PrivateNetwork=, ...) is dumped by criu run inside those namespaces, and\n"
                   "the unit's start restores it inside the sandbox systemd makes for it\n"
                   "(ExecStart=!, with the seccomp and privilege settings criu cannot run under\n"
                   "lifted for that start; the process gets its own back from the images).\n"
                   "\n"
                   "A bus sets aside (renames <id>.other-boot) the records of another boot when\n"
                   "it starts, so that a stale checkpoint does not hold names forever: a\n"
                   "checkpoint to restore after a reboot asks each bus to keep its connections'\n"
                   "records (--keep-across-reboot; implied for a systemd service whose drop-in\n"
                   "is in /etc). Their names are then held, frozen, from the bus's start.\n"},
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
                   "When the images' memory pages (DIR/pages-*.img) add up to more than 64 MiB\n"
                   "(--lazy-pages-above SIZE), criu lazy-pages is started as soon as the\n"
                   "manifest is read and criu restore runs in its lazy-pages mode: the service\n"
                   "runs before its memory is copied, pages come in as it touches them and in\n"
                   "the background; the command waits until every page is in (lazy-pages has\n"
                   "exited; its log is DIR/lazy-pages.log) and prints that time too. A restore\n"
                   "as a systemd unit's start never uses them.\n"
                   "\n"
                   "Refused when not root, when DIR was restored already, or when a name of\n"
                   "the checkpoint is owned by another connection now. If CRIU fails, the\n"
                   "error comes with the last lines of DIR/restore.log; the images are kept.\n"
                   "\n"
                   "A checkpoint of a systemd service's main process is restored through\n"
                   "systemctl start UNIT, whose start runs this restore: the restored pid is the\n"
                   "unit's main pid, in its cgroup; the drop-in is removed and systemd reloaded.\n"},
    SubcommandSpec{Subcommand::Migrate, "migrate", "NAME",
                   "Usage: dbus-checkpoint migrate NAME|--pid PID -D DIR --page-server ADDRESS:PORT\n"
                   "\n"
                   "Move a service to another host of the same architecture, the memory copied\n"
                   "after it runs there (post-copy). DIR is a directory the destination reads\n"
                   "too (shared storage), where `dbus-checkpoint receive -D DIR` runs on the\n"
                   "destination. As checkpoint, every bus connection of the tree is frozen\n"
                   "(callers get NameFrozen), then\n"
                   "  criu dump -t PID -D DIR --lazy-pages --address ADDRESS --port PORT\n"
                   "writes everything but the memory pages into DIR and serves the pages from\n"
                   "its page server; once it listens, DIR/dbus-checkpoint.json is written, and\n"
                   "receive restores the service on the destination at once (its bus Imports\n"
                   "the records, the pages come in as the service touches them and in the\n"
                   "background) and thaws it there. When the destination has fetched every\n"
                   "page, criu ends the process here and migrate discards its frozen\n"
                   "connections on this bus: their names are released here.\n"
                   "\n"
                   "If criu fails before it serves, or the destination does not fetch the\n"
                   "pages within --criu-timeout, criu resumes the process here, migrate thaws\n"
                   "its connections and removes DIR/dbus-checkpoint.json (a receive that did\n"
                   "not start yet restores nothing). Once the destination runs the service,\n"
                   "its memory is on both hosts until the last page is fetched: a transfer\n"
                   "that breaks then loses the service on the destination. Not for a systemd\n"
                   "service's main process (its unit would restart it here). Runs as root.\n"},
    SubcommandSpec{Subcommand::Receive, "receive", nullptr,
                   "Usage: dbus-checkpoint receive -D DIR [--wait SECONDS]\n"
                   "\n"
                   "The destination's half of migrate: waits (--wait, default 600 s) until\n"
                   "migrate has written DIR/dbus-checkpoint.json (DIR is created, mode 0700,\n"
                   "when missing), then restores as restore -D DIR does, with the pages fetched\n"
                   "from the source's page server by criu lazy-pages (--page-server), and\n"
                   "thaws the connections on this host's bus. Exits once every page is in.\n"
                   "A checkpoint whose pages are in DIR (from checkpoint) is restored as by\n"
                   "restore. Runs as root.\n"},
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
                   "until thaw. Freezing a frozen connection prints its id again.\n"},
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
                   "resumed afterwards. A systemd service whose start was this checkpoint's\n"
                   "restore gets its own start back (the drop-in is removed, systemd reloaded).\n"},
    SubcommandSpec{Subcommand::Export, "export", "ID",
                   "Usage: dbus-checkpoint export ID -o FILE\n"
                   "\n"
                   "Write the record of the frozen connection ID (its state, serialized as the\n"
                   "bus's Export returns it) to FILE, created with mode 0600.\n"},
};

constexpr const char *kProgramUsageHead =
    "Usage: dbus-checkpoint [OPTION...] COMMAND [ARGUMENT...]\n"
    "\n"
    "Checkpoint a D-Bus service with CRIU and restore it into its original bus\n"
    "connection; freeze and thaw connections. Works through the bus's\n"
    "org.freedesktop.DBus.Checkpoint interface (dbus-checkpoint's patched dbus-daemon).\n"
    "\n"
    "Commands:\n"
    "  checkpoint [--keep-across-reboot] NAME|--pid PID -D DIR\n"
    "                            freeze every bus connection of the process (NAME's\n"
    "                            owner, or PID) and its descendants, dump them with\n"
    "                            CRIU into DIR; on failure thaw, service keeps running;\n"
    "                            --keep-across-reboot: the bus keeps them for the next boot\n"
    "  restore -D DIR            wait for the dumped pids to be free, restore with\n"
    "                            CRIU into the same bus connections, thaw them\n"
    "  migrate NAME|--pid PID -D DIR --page-server ADDRESS:PORT\n"
    "                            move the service to the host that runs receive -D DIR:\n"
    "                            frozen, dumped without its memory, restored there at\n"
    "                            once, pages served from here until all are fetched\n"
    "  receive -D DIR            wait for migrate's images in DIR, restore them here\n"
    "  list                      list the frozen connections\n"
    "  freeze [--in-place] NAME  freeze the connection that owns NAME, print its id;\n"
    "                            --in-place also stops its process and descendants\n"
    "  thaw ID                   resume a frozen connection (and its stopped processes)\n"
    "  discard ID                give up a frozen connection: its names are released\n"
    "  export ID -o FILE         write the frozen connection's record to FILE\n";

constexpr const char *kProgramUsageTail =
    "\n"
    "checkpoint, restore, migrate and receive run as root. Data (ids, the list, JSON) goes to\n"
    "stdout; what was done, with timings, to stderr. Exit status: 0 success,\n"
    "1 failure (with the bus's error name and message, or CRIU's log), 2 usage error.\n";

bool runs_criu(Subcommand subcommand)
{
  return (kRunsCriu & only(subcommand)) != 0;
}

bool is_common(const OptionSpec &option)
{
  return option.subcommands == kEverySubcommand;
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

// "-D, --images-dir DIR", "--json"
std::string spelling(const OptionSpec &option)
{
  std::string text;
  if (option.short_name)
    text = std::string("-") + option.short_name + ", ";
  text += std::string("--") + option.long_name;
  if (option.value_name)
    text += std::string(" ") + option.value_name;
  return text;
}

// "  SPELLING" and the text from `column` on, its further lines indented
// as far.
std::string option_lines(const OptionSpec &option, const std::string &text, std::size_t column)
{
  std::string out = "  " + spelling(option);
  if (out.size() + 2 > column)
    out += "\n" + std::string(column, ' ');
  else
    out += std::string(column - out.size(), ' ');
  for (char c : text) {
    out += c;
    if (c == '\n')
      out += std::string(column, ' ');
  }
  return out + "\n";
}

// `text` as a whole decimal number from `low` to `high`, or nullopt.
std::optional<unsigned> whole_number(const std::string &text, unsigned low, unsigned high)
{
  unsigned number = 0;
  const char *end = text.data() + text.size();
  auto [rest, error] = std::from_chars(text.data(), end, number);
  if (error != std::errc() || rest != end || number < low || number > high)
    return std::nullopt;
  return number;
}

// "192.0.2.1:27000", "host.example:27000", "[2001:db8::1]:27000": the
// address (without brackets) and the port; false for anything else.
bool split_address_and_port(const std::string &text, std::string &address, std::uint16_t &port)
{
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs its brackets
  }
  if (host.find_first_not_of("0123456789ABCDEFabcdefghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ.:-") !=
          std::string::npos ||
      host.front() == '-')
    return false;
  auto number = whole_number(text.substr(colon + 1), 1, 65535);
  if (!number)
    return false;
  address = host;
  port = static_cast<std::uint16_t>(*number);
  return true;
}

// getopt_long's value for an option: its short letter, or 256 + its index.
int getopt_value(std::size_t index)
{
  return kOptions[index].short_name ? kOptions[index].short_name : 256 + static_cast<int>(index);
}

const OptionSpec *option_of_value(int value)
{
  for (std::size_t i = 0; i < kOptions.size(); ++i)
    if (getopt_value(i) == value)
      return &kOptions[i];
  return nullptr;
}

// The arguments through getopt_long (in order: RETURN_IN_ORDER, "-" first
// in the short options), the table's long and short options; then what
// each subcommand needs.
class Parser {
 public:
  explicit Parser(const std::vector<std::string> &arguments)
  {
    storage_.push_back("dbus-checkpoint");
    storage_.insert(storage_.end(), arguments.begin(), arguments.end());
    for (std::string &argument : storage_)
      argv_.push_back(argument.data());
    argv_.push_back(nullptr);
    short_options_ = "-:";
    for (std::size_t i = 0; i < kOptions.size(); ++i) {
      const OptionSpec &option = kOptions[i];
      if (option.short_name) {
        short_options_ += option.short_name;
        if (option.value_name)
          short_options_ += ':';
      }
      long_options_.push_back(
          {option.long_name, option.value_name ? required_argument : no_argument, nullptr,
           getopt_value(i)});
    }
    long_options_.push_back({nullptr, 0, nullptr, 0});
  }

  ParsedArguments parse()
  {
    const int argc = static_cast<int>(argv_.size()) - 1;
    optind = 0;  // glibc: start afresh
    opterr = 0;  // the messages are ours
    while (error_.empty()) {
      int long_index = -1;
      const int value = getopt_long(argc, argv_.data(), short_options_.c_str(),
                                    long_options_.data(), &long_index);
      if (value == -1)
        break;
      if (value == 1)
        parse_word(optarg);
      else if (value == '?')
        unknown_option();
      else if (value == ':')
        fail("option '" + typed_name(optind - 1) + "' needs a value");
      else
        take_option(*option_of_value(value), long_index >= 0);
    }
    // After "--": words only.
    for (int i = optind; error_.empty() && i < argc; ++i)
      parse_word(argv_[i]);
    if (error_.empty() && invocation_.request == Invocation::Request::Run)
      check_complete();
    return {invocation_, error_};
  }

 private:
  // The option as typed in argument `index`: "--name" without "=value",
  // or "-X".
  std::string typed_name(int index) const
  {
    std::string argument = argv_[index];
    if (argument.starts_with("--"))
      return argument.substr(0, argument.find('='));
    if (argument.size() > 2 && argument[0] == '-' && optopt > 0 && optopt < 256)
      return std::string("-") + static_cast<char>(optopt);
    return argument;
  }

  void unknown_option()
  {
    const std::string name = typed_name(optind - 1);
    const OptionSpec *known = optopt ? option_of_value(optopt) : nullptr;
    if (known && !known->value_name && name.starts_with("--"))
      return fail("option '" + name + "' takes no value");
    fail("unknown option '" + name + "'");
  }

  void take_option(const OptionSpec &option, bool is_long)
  {
    // Which argument held it: the one before its value when that came
    // apart.
    const bool separate_value = option.value_name && optind >= 2 && optarg == argv_[optind - 1];
    const std::string name =
        is_long ? typed_name(optind - (separate_value ? 2 : 1)) : std::string("-") + option.short_name;
    if (is_long && name != std::string("--") + option.long_name)
      return fail("unknown option '" + name + "'");  // an abbreviation getopt_long allows
    if (option.value_name && *optarg == '\0')
      return fail("option '" + name + "' needs a value");
    given_.push_back({&option, name});
    const std::string value = option.value_name ? optarg : "";
    switch (option.id) {
    case OptionId::System: invocation_.bus.address.clear(); break;
    case OptionId::Address: invocation_.bus.address = value; break;
    case OptionId::Json: invocation_.json = true; break;
    case OptionId::InPlace: invocation_.in_place = true; break;
    case OptionId::KeepAcrossReboot: invocation_.keep_across_reboot = true; break;
    case OptionId::Pid: pid_text_ = value; break;
    case OptionId::ImagesDir: invocation_.images_dir = value; break;
    case OptionId::Output: invocation_.output_path = value; break;
    case OptionId::Criu: invocation_.criu_path = value; break;
    case OptionId::PluginDir: invocation_.plugin_dir = value; break;
    case OptionId::CriuTimeout: criu_timeout_text_ = value; break;
    case OptionId::LazyPagesAbove: lazy_pages_above_text_ = value; break;
    case OptionId::NoLazyPages: no_lazy_pages_ = true; break;
    case OptionId::PageServer: page_server_text_ = value; break;
    case OptionId::Wait: wait_text_ = value; break;
    case OptionId::Help: invocation_.request = Invocation::Request::Help; break;
    case OptionId::Version: invocation_.request = Invocation::Request::Version; break;
    }
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
    for (const auto &[option, typed] : given_)
      if ((option->subcommands & only(subcommand)) == 0)
        return fail(name + ": " + typed + " is an option of " + subcommands_taking(*option));
    if (!criu_timeout_text_.empty()) {
      auto seconds = whole_number(criu_timeout_text_, 1, 3600);
      if (!seconds)
        return fail(name + ": --criu-timeout needs whole seconds from 1 to 3600, not '" +
                    criu_timeout_text_ + "'");
      invocation_.criu_timeout = std::chrono::seconds(*seconds);
    }
    if (no_lazy_pages_ && !lazy_pages_above_text_.empty())
      return fail(name + ": give --lazy-pages-above SIZE or --no-lazy-pages, not both");
    if (no_lazy_pages_)
      invocation_.lazy_pages_above.reset();
    if (!lazy_pages_above_text_.empty()) {
      invocation_.lazy_pages_above = parse_size(lazy_pages_above_text_);
      if (!invocation_.lazy_pages_above)
        return fail(name + ": --lazy-pages-above needs a size (bytes, or with K, M, G: 64M; "
                           "0 = always), not '" + lazy_pages_above_text_ + "'");
    }
    if (!wait_text_.empty()) {
      auto seconds = whole_number(wait_text_, 1, 86400);
      if (!seconds)
        return fail(name + ": --wait needs whole seconds from 1 to 86400, not '" + wait_text_ + "'");
      invocation_.receive_wait = std::chrono::seconds(*seconds);
    }
    if (subcommand == Subcommand::Migrate) {
      if (page_server_text_.empty())
        return fail("migrate: missing --page-server ADDRESS:PORT");
      if (!split_address_and_port(page_server_text_, invocation_.page_server_address,
                                  invocation_.page_server_port))
        return fail("migrate: --page-server needs ADDRESS:PORT (an address of this host, a port "
                    "from 1 to 65535), not '" + page_server_text_ + "'");
    }
    if ((kDumps & only(subcommand)) != 0)
      return check_dump_target(name);
    if (spec.target && invocation_.target.empty())
      return fail(name + ": missing " + spec.target);
    if (subcommand == Subcommand::Export && invocation_.output_path.empty())
      return fail("export: missing -o FILE");
    if ((subcommand == Subcommand::Restore || subcommand == Subcommand::Receive) &&
        invocation_.images_dir.empty())
      return fail(name + ": missing -D DIR");
  }

  // checkpoint and migrate take NAME or --pid PID, not both, and -D DIR.
  void check_dump_target(const std::string &name)
  {
    if (!pid_text_.empty()) {
      if (!invocation_.target.empty())
        return fail(name + ": give NAME or --pid PID, not both");
      auto [end, error] = std::from_chars(pid_text_.data(), pid_text_.data() + pid_text_.size(),
                                          invocation_.pid);
      if (error != std::errc() || end != pid_text_.data() + pid_text_.size() ||
          invocation_.pid <= 1)
        return fail(name + ": --pid needs a process id above 1, not '" + pid_text_ + "'");
    } else if (invocation_.target.empty()) {
      return fail(name + ": missing NAME or --pid PID");
    }
    if (invocation_.images_dir.empty())
      return fail(name + ": missing -D DIR");
  }

  void fail(const std::string &message)
  {
    if (error_.empty())
      error_ = message;
  }

  struct GivenOption {
    const OptionSpec *option;
    std::string typed;  // as given: "-D" or "--images-dir"
  };

  std::vector<std::string> storage_;  // argv_ points into these
  std::vector<char *> argv_;
  std::string short_options_;
  std::vector<option> long_options_;
  Invocation invocation_;
  std::string pid_text_;           // --pid's value, checked at the end
  std::string criu_timeout_text_;  // --criu-timeout's value, likewise
  std::string lazy_pages_above_text_;  // --lazy-pages-above's value, likewise
  bool no_lazy_pages_ = false;
  std::string page_server_text_;  // --page-server's value, likewise
  std::string wait_text_;         // --wait's value, likewise
  std::vector<GivenOption> given_;
  std::string error_;
};

constexpr std::array kAllSubcommands = {Subcommand::Checkpoint, Subcommand::Restore,
                                        Subcommand::Migrate,    Subcommand::Receive,
                                        Subcommand::List,       Subcommand::Freeze,
                                        Subcommand::Thaw,       Subcommand::Discard,
                                        Subcommand::Export};

} // namespace

std::optional<std::uint64_t> parse_size(const std::string &text)
{
  std::uint64_t number = 0;
  const char *end = text.data() + text.size();
  auto [rest, error] = std::from_chars(text.data(), end, number);
  if (error != std::errc() || rest == text.data())
    return std::nullopt;
  std::string unit(rest, end);
  if (unit.ends_with("iB"))
    unit.resize(unit.size() - 2);
  unsigned shift = 0;
  if (unit == "K" || unit == "k")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G")
    shift = 30;
  else if (unit == "T")
    shift = 40;
  else if (!unit.empty() && unit != "B")
    return std::nullopt;
  if (shift && number > (~std::uint64_t{0} >> shift))
    return std::nullopt;
  return number << shift;
}

std::string to_string(Subcommand subcommand)
{
  return spec_of(subcommand).name;
}

std::span<const Subcommand> all_subcommands()
{
  return kAllSubcommands;
}

std::span<const OptionSpec> option_table()
{
  return kOptions;
}

std::string subcommands_taking(const OptionSpec &option)
{
  std::vector<std::string> names;
  for (Subcommand subcommand : kAllSubcommands)
    if (option.subcommands & only(subcommand))
      names.push_back(to_string(subcommand));
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return text;
}

ParsedArguments parse_arguments(const std::vector<std::string> &arguments)
{
  return Parser(arguments).parse();
}

std::string program_usage()
{
  std::string usage = std::string(kProgramUsageHead) + "\nOptions:\n";
  for (const OptionSpec &option : kOptions) {
    std::string summary = option.summary;
    if (!is_common(option))
      summary = subcommands_taking(option) + ": " + summary;
    usage += option_lines(option, summary, 28);
  }
  return usage + kProgramUsageTail;
}

std::string subcommand_usage(Subcommand subcommand)
{
  std::string usage = spec_of(subcommand).usage;
  std::string own, common;
  for (const OptionSpec &option : kOptions) {
    if (is_common(option)) {
      if (option.id != OptionId::Help && option.id != OptionId::Version)
        common += std::string(common.empty() ? "" : ", ") + "--" + option.long_name +
                  (option.value_name ? std::string(" ") + option.value_name : "");
    } else if (option.subcommands & only(subcommand)) {
      own += option_lines(option, option.detail ? option.detail : option.summary, 24);
    }
  }
  if (!own.empty())
    usage += "\n" + own;
  if (runs_criu(subcommand))
    usage += kCriuVersionNote;
  return usage + "\nCommon options: " + common + " (see dbus-checkpoint --help).\n";
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
