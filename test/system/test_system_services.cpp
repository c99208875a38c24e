// SPDX-License-Identifier: GPL-2.0-or-later
// Debian's own system services on our daemon as THE system bus
// (DistributionBus), checkpointed and restored with the dbus-checkpoint CLI
// and real CRIU.  Root only.
//
// Each service is started as Debian starts it — its unit's command line in
// a session of its own with only fds 0-2 (as init does), or, for polkitd,
// activated by the bus through Debian's launch helper on the first call —
// and dropping to its packaged user where its policy says so.  For each:
// cold start → first answered call (a real method or property, its value
// checked); `dbus-checkpoint checkpoint NAME`; a call gets NameFrozen;
// `dbus-checkpoint restore`; the call is answered again by the same unique
// name and pid; a signal the service emits after the restore reaches a
// subscriber.  Times (cold start, restore → first answered call) and image
// sizes are printed.  rtkit-daemon also across a bus SIGKILLed and started
// again on its state directory.
//
// Upstream CRIU dumps a process of another user only with CAP_SYS_RESOURCE
// (it reads its rlimits with prlimit(2)), which some containers do not
// grant even to root, and no unprivileged daemon chrooted where there is
// no /proc (avahi-daemon in /etc/avahi, rtkit-daemon in /proc): our CRIU
// reads their rlimits from /proc/PID/limits (criu-patches/0002) and their
// cgroups from /proc/PID/cgroup (0003).  Every service here does the whole
// round trip: with a CRIU that cannot dump one, the test fails and says so
// (checkpoint's refusals in those cases are tested in test_cli_units).
//
// The test is a child subreaper: what CRIU restores ends up its child, and
// DistributionBus kills every process of its namespace when it goes.
#define BOOST_TEST_MODULE system_services
#include <boost/test/unit_test.hpp>

#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "cli/dump_checks.hpp"
#include "cli/process_tree.hpp"
#include "criu-probe/criu_output.hpp"
#include "criu_support.hpp"
#include "distribution_bus.hpp"
#include "process.hpp"

using namespace dcp::test;
using namespace dcp::test::system;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using dcp::test::criu::BecomeSubreaper;
BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

namespace system_test {

using Clock = std::chrono::steady_clock;
constexpr auto kCliTimeout = 90s;

double ms_since(Clock::time_point since)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

uid_t uid_of(const char *user)
{
  const struct passwd *entry = getpwnam(user);
  BOOST_REQUIRE_MESSAGE(entry, "no user " << user << " (is its package installed?)");
  return entry->pw_uid;
}

// The first argument of a reply as text: a string, an object path, or an
// int32 inside a variant (Properties.Get).
std::string first_value(sd_bus_message *reply)
{
  char type = 0;
  const char *contents = nullptr;
  if (sd_bus_message_peek_type(reply, &type, &contents) < 0)
    return "<unreadable>";
  if (type == 'v') {
    if (sd_bus_message_enter_container(reply, 'v', contents) < 0)
      return "<unreadable variant>";
    return first_value(reply);
  }
  if (type == 'i') {
    int32_t number = 0;
    sd_bus_message_read_basic(reply, 'i', &number);
    return std::to_string(number);
  }
  if (type == 's' || type == 'o') {
    const char *text = nullptr;
    sd_bus_message_read_basic(reply, type, &text);
    return text ? text : "";
  }
  return std::string("<type ") + type + ">";
}

// A Debian system service as the test drives it.
struct SystemService {
  std::string label;                      // for messages: the program's name
  std::string bus_name;
  std::vector<std::string> command;       // its unit's ExecStart; empty: bus-activated
  const char *user;                       // the user its connection must have
  // The real call whose answer is checked, and that answer.
  MethodCall call;
  ArgumentWriter arguments;
  std::string expected_answer;
  // After the restore: a match rule for a signal of the service, and what
  // makes it emit one.  Empty rule: the service declares no signal.
  std::string signal_rule;
  std::function<void(DistributionBus &, sd_bus *)> make_it_signal;
};

MethodCall property_call(const std::string &bus_name, const std::string &path)
{
  return {bus_name, path, "org.freedesktop.DBus.Properties", "Get", 10s};
}

ArgumentWriter property(const char *interface, const char *name)
{
  return [=](sd_bus_message *m) { return sd_bus_message_append(m, "ss", interface, name); };
}

SystemService avahi()
{
  return {"avahi-daemon",
          "org.freedesktop.Avahi",
          {"/usr/sbin/avahi-daemon", "-s"},  // avahi-daemon.service
          "avahi",
          {"org.freedesktop.Avahi", "/", "org.freedesktop.Avahi.Server", "GetVersionString", 10s},
          {},
          "avahi 0.8",
          // A new host name makes the server re-announce: StateChanged.
          "type='signal',sender='org.freedesktop.Avahi',interface='org.freedesktop.Avahi.Server',"
          "member='StateChanged'",
          [](DistributionBus &, sd_bus *bus) {
            CallResult set = call(bus, {"org.freedesktop.Avahi", "/", "org.freedesktop.Avahi.Server",
                                        "SetHostName", 10s},
                                  "s", "dcp-restored");
            BOOST_TEST(set.ok(), "SetHostName: " << set.describe());
          }};
}

// Started by its unit's command line, or (activated) by the bus through
// its org.freedesktop.Accounts.service, as on a system without systemd.
SystemService accounts(bool activated)
{
  return {"accounts-daemon",
          "org.freedesktop.Accounts",
          activated ? std::vector<std::string>{}
                    : std::vector<std::string>{"/usr/libexec/accounts-daemon"},  // its unit
          "root",
          {"org.freedesktop.Accounts", "/org/freedesktop/Accounts", "org.freedesktop.Accounts",
           "FindUserByName", 25s},
          [](sd_bus_message *m) { return sd_bus_message_append(m, "s", "root"); },
          "/org/freedesktop/Accounts/User0",
          // Changing a user (polkit, activated by the bus, says root may)
          // emits the user's Changed; its data goes to the scratch
          // /var/lib/AccountsService.
          "type='signal',sender='org.freedesktop.Accounts',path='/org/freedesktop/Accounts/User0',"
          "interface='org.freedesktop.Accounts.User',member='Changed'",
          [](DistributionBus &, sd_bus *bus) {
            CallResult set = call(bus, {"org.freedesktop.Accounts", "/org/freedesktop/Accounts/User0",
                                        "org.freedesktop.Accounts.User", "SetLocation", 25s},
                                  "s", "dcp-restored");
            BOOST_TEST(set.ok(), "SetLocation: " << set.describe());
          }};
}

// rtkit-daemon.service runs it without options: it drops to user rtkit
// and chroots into /proc.  `options` turn that off.
SystemService rtkit(std::vector<std::string> options)
{
  std::vector<std::string> command = {"/usr/libexec/rtkit-daemon"};
  command.insert(command.end(), options.begin(), options.end());
  const bool drops_privileges =
      std::find(options.begin(), options.end(), "--no-drop-privileges") == options.end();
  return {"rtkit-daemon",
          "org.freedesktop.RealtimeKit1",
          command,
          drops_privileges ? "rtkit" : "root",
          property_call("org.freedesktop.RealtimeKit1", "/org/freedesktop/RealtimeKit1"),
          property("org.freedesktop.RealtimeKit1", "MaxRealtimePriority"),
          "20",
          "",  // its interface declares no signal
          {}};
}

SystemService polkit()
{
  return {"polkitd",
          "org.freedesktop.PolicyKit1",
          {},  // org.freedesktop.PolicyKit1.service: Exec=/usr/lib/polkit-1/polkitd --no-debug
          "polkitd",
          property_call("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority"),
          property("org.freedesktop.PolicyKit1.Authority", "BackendName"),
          "js",
          // A new rules file (in the scratch /etc/polkit-1/rules.d) is
          // reloaded: Changed.
          "type='signal',sender='org.freedesktop.PolicyKit1',path='/org/freedesktop/PolicyKit1/Authority',"
          "interface='org.freedesktop.PolicyKit1.Authority',member='Changed'",
          [](DistributionBus &host, sd_bus *) {
            std::ofstream(host.outside("/etc/polkit-1/rules.d/50-dcp-test.rules"))
                << "// written by test_system_services\n"
                   "polkit.addRule(function(action, subject) { return polkit.Result.NOT_HANDLED; });\n";
          }};
}

uid_t process_uid(pid_t pid)
{
  auto credentials = dbus_checkpoint::cli::parse_credentials(read_file("/proc/" + std::to_string(pid) + "/status"));
  if (!credentials)
    BOOST_FAIL("pid " << pid << ": " << credentials.error().message);
  return credentials.value().uids[1];
}

// What the CRIU of this build dumps beyond an upstream one: our
// criu-patches/, named in its --version.
dbus_checkpoint::cli::CriuAbilities this_criu_abilities()
{
  CommandResult version = run_command({DCP_CRIU_EXECUTABLE, "--version"}, 10s);
  BOOST_REQUIRE_MESSAGE(version.ok(), DCP_CRIU_EXECUTABLE " --version: " << version.describe());
  return dbus_checkpoint::cli::criu_abilities(dbus_checkpoint::criu::parse_patch_features(version.out));
}

// Its open descriptors, by number, each "socket" or what it points at
// (sockets are new after a restore: the bus socket is the plugin's), a
// pipe as "pipe N", N counting the pipes in fd order (CRIU restores a pipe
// with a new inode, but the same ends on the same fds).
std::map<int, std::string> open_files(pid_t pid)
{
  std::map<int, std::string> files;
  std::error_code error;
  for (const auto &entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error))
    files[std::stoi(entry.path().filename().string())] = fs::read_symlink(entry.path(), error).string();
  std::map<std::string, int> pipe_numbers;
  for (auto &[fd, target] : files) {
    if (target.starts_with("socket:"))
      target = "socket";
    else if (target.starts_with("pipe:"))
      target = "pipe " + std::to_string(pipe_numbers.try_emplace(target, pipe_numbers.size() + 1).first->second);
  }
  return files;
}

std::string describe(const std::map<int, std::string> &files)
{
  std::string text;
  for (const auto &[fd, target] : files)
    text += (text.empty() ? "" : ", ") + std::to_string(fd) + " " + target;
  return "{" + text + "}";
}

bool has_owner(sd_bus *bus, const std::string &name) { return name_has_owner(bus, name); }

std::uint32_t connection_uint(sd_bus *bus, const char *member, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", member), "s", name.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), member << " " << name << ": " << r.describe());
  std::uint32_t value = 0;
  BOOST_REQUIRE_GE(sd_bus_message_read_basic(r.reply.get(), 'u', &value), 0);
  return value;
}

std::string owner_of(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", "GetNameOwner"), "s", name.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), "GetNameOwner " << name << ": " << r.describe());
  return read_string(r.reply.get());
}

// The service on its bus: started, checkpointed, restored.
class ServiceRun {
 public:
  ServiceRun(DistributionBus &host, SystemService service)
      : host_(host), service_(std::move(service)), admin_(host.open_bus())
  {
  }

  // Cold start → first answered call; checks the answer and the user.
  void cold_start()
  {
    const auto started = Clock::now();
    if (!service_.command.empty()) {
      process_.emplace(host_.start_service(service_.command, service_.label + ".log"));
      BOOST_REQUIRE_MESSAGE(
          wait_until([&] { return has_owner(admin_.get(), service_.bus_name) || !process_->running(); },
                     30s) && process_->running(),
          service_.label << " did not take " << service_.bus_name << ": "
                         << read_file(host_.dir() / (service_.label + ".log")) << host_.log());
    }
    // polkitd: this very call has the bus activate it.
    CallResult answer = answered_call();
    cold_start_ms = ms_since(started);
    BOOST_REQUIRE_MESSAGE(answer.ok(), service_.label << ": " << answer.describe() << "\n" << host_.log());
    BOOST_TEST(first_value(answer.reply.get()) == service_.expected_answer);
    unique_name = owner_of(admin_.get(), service_.bus_name);
    pid = static_cast<pid_t>(connection_uint(admin_.get(), "GetConnectionUnixProcessID", unique_name));
    BOOST_TEST(process_uid(pid) == uid_of(service_.user), service_.label << " runs as " << service_.user);
    files_before = open_files(pid);
    if (service_.command.empty())
      BOOST_TEST(getsid(pid) != pid, "activated by the bus: not a session leader");
    else
      BOOST_TEST(pid == process_->pid());
  }

  CallResult answered_call() { return call(admin_.get(), service_.call, service_.arguments); }

  CommandResult cli(const std::vector<std::string> &arguments)
  {
    std::vector<std::string> command = {DCP_CLI};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return host_.run(command, kCliTimeout);
  }

  // dbus-checkpoint checkpoint; the service is gone, its name frozen.
  void checkpoint()
  {
    // avahi-daemon forks a chroot helper: CRIU dumps and restores both.
    auto tree = dbus_checkpoint::cli::process_tree(pid);
    BOOST_REQUIRE_MESSAGE(tree, (tree ? "" : tree.error().message));
    tree_pids.clear();
    for (const auto &process : tree.value())
      tree_pids.push_back(process.id.pid);
    images = host_.dir() / ("images-" + service_.label);
    CommandResult r = cli({"checkpoint", "--json", service_.bus_name, "-D", images.string()});
    BOOST_REQUIRE_MESSAGE(r.ok(), "checkpoint " << service_.label << ": " << r.describe());
    BOOST_TEST_MESSAGE(r.err);
    image_bytes = criu::directory_bytes(images);
    if (process_) {  // reaped here, so that its ChildProcess never touches the restored pid
      BOOST_REQUIRE(wait_until([&] { return !process_->running(); }, 10s));
      process_.reset();
    }
    // Each gone from /proc: one whose parent died with it was handed to this
    // test (a subreaper), and is reaped here.
    for (pid_t dumped : tree_pids)
      BOOST_REQUIRE_MESSAGE(criu::wait_until_gone(dumped, 10s), "pid " << dumped << " is gone");
    CallResult frozen = answered_call();
    BOOST_TEST(frozen.error_name == kNameFrozen, frozen.describe());
  }

  // What checkpoint would refuse before the freeze with this CRIU (""
  // when nothing): an upstream CRIU cannot dump another user's service
  // without CAP_SYS_RESOURCE, nor one chrooted where there is no /proc.
  std::string refusal() const
  {
    auto tree = dbus_checkpoint::cli::process_tree(pid);
    BOOST_REQUIRE_MESSAGE(tree, (tree ? "" : tree.error().message));
    auto dumpable = dbus_checkpoint::cli::check_criu_can_dump(tree.value(), this_criu_abilities());
    return dumpable ? "" : dumpable.error().message;
  }

  // dbus-checkpoint restore → first answered call, by the same connection
  // and process.
  void restore()
  {
    const auto started = Clock::now();
    CommandResult r = cli({"restore", "-D", images.string()});
    BOOST_REQUIRE_MESSAGE(r.ok(), "restore " << service_.label << ": " << r.describe()
                                             << criu::tail_of(images / "restore.log") << host_.log());
    CallResult answer = answered_call();
    restore_ms = ms_since(started);
    for (pid_t restored : tree_pids)
      restored_.emplace_back(restored);
    BOOST_TEST_MESSAGE(r.err);
    BOOST_REQUIRE_MESSAGE(answer.ok(), service_.label << " after restore: " << answer.describe());
    BOOST_TEST(first_value(answer.reply.get()) == service_.expected_answer);
    BOOST_TEST(owner_of(admin_.get(), service_.bus_name) == unique_name, "same unique name");
    BOOST_TEST(connection_uint(admin_.get(), "GetConnectionUnixProcessID", unique_name) ==
                   static_cast<std::uint32_t>(pid),
               "same pid");
    for (pid_t restored : tree_pids)
      BOOST_TEST(criu::process_exists(restored), "pid " << restored << " restored");
    BOOST_TEST(open_files(pid) == files_before, "the same descriptors, nothing of CRIU's left open: "
                                                    << describe(files_before) << " before, "
                                                    << describe(open_files(pid)) << " after");
  }

  void expect_signal_after_restore()
  {
    if (service_.signal_rule.empty()) {
      BOOST_TEST_MESSAGE(service_.label << " declares no signal (Introspect): none to wait for");
      return;
    }
    SdBus subscriber = host_.open_bus();
    SignalCollector signals(subscriber.get(), service_.signal_rule);
    service_.make_it_signal(host_, admin_.get());
    BOOST_TEST(signals.wait_for(1, 20s), service_.label << " emitted a signal after restore: "
                                                         << service_.signal_rule);
  }

  void report() const
  {
    BOOST_TEST_MESSAGE(service_.label << ": cold start → first answer " << cold_start_ms
                                      << " ms; restore → first answer " << restore_ms
                                      << " ms; images " << image_bytes / 1024 << " KiB");
  }

  void reconnect_admin() { admin_ = host_.open_bus(); }

  std::string unique_name;
  pid_t pid = 0;
  std::vector<pid_t> tree_pids;  // pid and its descendants, when dumped
  fs::path images;
  double cold_start_ms = 0, restore_ms = 0;
  std::uintmax_t image_bytes = 0;
  std::map<int, std::string> files_before;

 private:
  DistributionBus &host_;
  SystemService service_;
  SdBus admin_;
  std::optional<ChildProcess> process_;  // started by the test; reaped once dumped
  std::list<criu::RestoredProcess> restored_;  // the tree, as dumped
};

void checkpoint_and_restore(SystemService service)
{
  DistributionBus host;
  ServiceRun run(host, std::move(service));
  run.cold_start();
  // Not a skip: this test is there to restore the service.
  const std::string refusal = run.refusal();
  BOOST_REQUIRE_MESSAGE(refusal.empty(), refusal << "\n-- with " DCP_CRIU_EXECUTABLE ", a CRIU without "
                        "criu-patches/ that let it dump such a service here; configure with "
                        "-DDCP_CRIU=BUILD");
  run.checkpoint();
  run.restore();
  run.expect_signal_after_restore();
  run.report();
}

} // namespace system_test
using namespace system_test;

BOOST_AUTO_TEST_CASE(avahi_daemon) { checkpoint_and_restore(avahi()); }

BOOST_AUTO_TEST_CASE(accounts_daemon) { checkpoint_and_restore(accounts(/*activated=*/false)); }

// Not a session leader: dumped as a shell job, restored into a session of
// its own.
BOOST_AUTO_TEST_CASE(accounts_daemon_activated_by_the_bus) { checkpoint_and_restore(accounts(true)); }

// Runs with RLIMIT_FSIZE 0: CRIU's log lines written in its context after
// the restore gave it back its limits killed it with SIGXFSZ.  As root, so
// that it can be dumped without CAP_SYS_RESOURCE too.
BOOST_AUTO_TEST_CASE(rtkit_daemon)
{
  checkpoint_and_restore(rtkit({"--no-chroot", "--no-drop-privileges"}));
}

// As its unit starts it: it drops to user rtkit and chroots into /proc,
// where CRIU's parasite could not read its cgroups (criu-patches/0003).
BOOST_AUTO_TEST_CASE(rtkit_daemon_as_its_unit_starts_it) { checkpoint_and_restore(rtkit({})); }

BOOST_AUTO_TEST_CASE(polkitd_activated_by_the_bus) { checkpoint_and_restore(polkit()); }

// rtkit-daemon (as root, see above) is what can be dumped on any machine;
// it declares no signal.  (accounts-daemon is not used here: across a bus
// restart its cached owner of org.freedesktop.PolicyKit1, the polkitd of
// the old bus, is stale, and its polkit checks fail; see README.)
BOOST_AUTO_TEST_CASE(rtkit_daemon_across_a_bus_killed_and_restarted)
{
  DistributionBus host;
  ServiceRun run(host, rtkit({"--no-chroot", "--no-drop-privileges"}));
  run.cold_start();
  run.checkpoint();
  host.kill_hard();
  host.start();  // reads the frozen connection back from /var/lib/dbus/checkpoint
  run.reconnect_admin();
  run.restore();
  run.expect_signal_after_restore();
  run.report();
}
