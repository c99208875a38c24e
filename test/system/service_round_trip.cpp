// SPDX-License-Identifier: GPL-2.0-or-later
#include "service_round_trip.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>
#include <utility>

#include "checkpoint_calls.hpp"
#include "cli/dump_checks.hpp"
#include "cli/process_tree.hpp"
#include "criu-probe/criu_output.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace dcp::test::system {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCliTimeout = 90s;

double ms_since(Clock::time_point since)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// require(condition) << "what was seen": throws RoundTripFailure with the
// message when the condition does not hold (at the end of the statement).
class Requirement {
 public:
  explicit Requirement(bool holds) : holds_(holds) {}
  Requirement(const Requirement &) = delete;
  ~Requirement() noexcept(false)
  {
    if (!holds_ && std::uncaught_exceptions() == 0)
      throw RoundTripFailure(message_.str());
  }
  template <typename T>
  Requirement &operator<<(const T &value)
  {
    if (!holds_)
      message_ << value;
    return *this;
  }

 private:
  bool holds_;
  std::ostringstream message_;
};

Requirement require(bool condition) { return Requirement(condition); }

uid_t uid_of(const char *user)
{
  const struct passwd *entry = getpwnam(user);
  require(entry != nullptr) << "no user " << user << " (is its package installed?)";
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

MethodCall property_call(const std::string &bus_name, const std::string &path)
{
  return {bus_name, path, "org.freedesktop.DBus.Properties", "Get", 10s};
}

ArgumentWriter property(const char *interface, const char *name)
{
  return [=](sd_bus_message *m) { return sd_bus_message_append(m, "ss", interface, name); };
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

bool has_owner(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", "NameHasOwner"), "s", name.c_str());
  require(r.ok()) << "NameHasOwner " << name << ": " << r.describe();
  int has = 0;
  require(sd_bus_message_read(r.reply.get(), "b", &has) >= 0) << "NameHasOwner's reply";
  return has;
}

std::uint32_t connection_uint(sd_bus *bus, const char *member, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", member), "s", name.c_str());
  require(r.ok()) << member << " " << name << ": " << r.describe();
  std::uint32_t value = 0;
  require(sd_bus_message_read_basic(r.reply.get(), 'u', &value) >= 0) << member << "'s reply";
  return value;
}

std::string owner_of(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", "GetNameOwner"), "s", name.c_str());
  require(r.ok()) << "GetNameOwner " << name << ": " << r.describe();
  return read_string(r.reply.get());
}

// What the CRIU of this build dumps beyond an upstream one: our
// criu-patches/, named in its --version.
dbus_checkpoint::cli::CriuAbilities this_criu_abilities()
{
  CommandResult version = run_command({DCP_CRIU_EXECUTABLE, "--version"}, 10s);
  require(version.ok()) << DCP_CRIU_EXECUTABLE " --version: " << version.describe();
  return dbus_checkpoint::cli::criu_abilities(dbus_checkpoint::criu::parse_patch_features(version.out));
}

} // namespace

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
            require(set.ok()) << "SetHostName: " << set.describe();
          }};
}

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
            require(set.ok()) << "SetLocation: " << set.describe();
          }};
}

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
                << "// written by the system suite\n"
                   "polkit.addRule(function(action, subject) { return polkit.Result.NOT_HANDLED; });\n";
          }};
}

uid_t process_uid(pid_t pid)
{
  auto credentials = dbus_checkpoint::cli::parse_credentials(read_file("/proc/" + std::to_string(pid) + "/status"));
  require(bool(credentials)) << "pid " << pid << ": " << (credentials ? "" : credentials.error().message);
  return credentials.value().uids[1];
}

std::string criu_refusal(pid_t pid)
{
  auto tree = dbus_checkpoint::cli::process_tree(pid);
  require(bool(tree)) << "the process tree of " << pid << ": " << (tree ? "" : tree.error().message);
  auto dumpable = dbus_checkpoint::cli::check_criu_can_dump(tree.value(), this_criu_abilities());
  return dumpable ? "" : dumpable.error().message;
}

ServiceRoundTrip::ServiceRoundTrip(DistributionBus &host, SystemService service)
    : host_(host), service_(std::move(service)), admin_(host.open_bus())
{
}

CallResult ServiceRoundTrip::answered_call() { return call(admin_.get(), service_.call, service_.arguments); }

CommandResult ServiceRoundTrip::cli(const std::vector<std::string> &arguments)
{
  std::vector<std::string> command = {DCP_CLI};
  command.insert(command.end(), arguments.begin(), arguments.end());
  return host_.run(command, kCliTimeout);
}

void ServiceRoundTrip::cold_start()
{
  const auto started = Clock::now();
  if (!service_.command.empty()) {
    process_.emplace(host_.start_service(service_.command, service_.label + ".log"));
    // polled every 0.25 ms: the services start in a few ms, and 5 ms steps
    // made their cold start look up to 5 ms longer
    const bool took_name = wait_until(
        [&] { return has_owner(admin_.get(), service_.bus_name) || !process_->running(); }, 30s,
        std::chrono::microseconds(250));
    require(took_name && process_->running())
        << service_.label << " did not take " << service_.bus_name << ": "
        << read_file(host_.dir() / (service_.label + ".log")) << host_.log();
  }
  // polkitd: this very call has the bus activate it.
  CallResult answer = answered_call();
  figures_.cold_start_ms = ms_since(started);
  require(answer.ok()) << service_.label << ": " << answer.describe() << "\n" << host_.log();
  const std::string value = first_value(answer.reply.get());
  require(value == service_.expected_answer)
      << service_.label << " answered " << value << ", not " << service_.expected_answer;
  unique_name = owner_of(admin_.get(), service_.bus_name);
  pid = static_cast<pid_t>(connection_uint(admin_.get(), "GetConnectionUnixProcessID", unique_name));
  require(process_uid(pid) == uid_of(service_.user)) << service_.label << " runs as " << service_.user;
  files_before_ = open_files(pid);
  if (service_.command.empty())
    require(getsid(pid) != pid) << "activated by the bus, " << service_.label << " leads a session";
  else
    require(pid == process_->pid()) << service_.label << "'s connection is pid " << pid
                                    << ", not the started " << process_->pid();
}

void ServiceRoundTrip::checkpoint()
{
  // avahi-daemon forks a chroot helper: CRIU dumps and restores both.
  auto tree = dbus_checkpoint::cli::process_tree(pid);
  require(bool(tree)) << (tree ? "" : tree.error().message);
  tree_pids.clear();
  for (const auto &process : tree.value())
    tree_pids.push_back(process.id.pid);
  images = host_.dir() / ("images-" + service_.label);
  fs::remove_all(images);
  const auto started = Clock::now();
  CommandResult r = cli({"checkpoint", "--json", service_.bus_name, "-D", images.string()});
  figures_.checkpoint_ms = ms_since(started);
  require(r.ok()) << "checkpoint " << service_.label << ": " << r.describe();
  checkpoint_output = r.err;
  figures_.image_bytes = criu::directory_bytes(images);
  if (process_) {  // reaped here, so that its ChildProcess never touches the restored pid
    require(wait_until([&] { return !process_->running(); }, 10s))
        << service_.label << " (pid " << process_->pid() << ") still runs after its checkpoint";
    process_.reset();
  }
  // Each gone from /proc: one whose parent died with it was handed to the
  // caller (a subreaper), and is reaped here.
  for (pid_t dumped : tree_pids)
    require(criu::wait_until_gone(dumped, 10s)) << "pid " << dumped << " still exists after its checkpoint";
  CallResult frozen = answered_call();
  require(frozen.error_name == kNameFrozen) << "a call to frozen " << service_.label << ": "
                                            << frozen.describe();
}

void ServiceRoundTrip::restore()
{
  const auto started = Clock::now();
  CommandResult r = cli({"restore", "--json", "-D", images.string()});
  require(r.ok()) << "restore " << service_.label << ": " << r.describe()
                  << criu::tail_of(images / "restore.log") << host_.log();
  CallResult answer = answered_call();
  figures_.restore_ms = ms_since(started);
  restore_output = r.out + r.err;
  // {"command": "restore", …, "wait_ms": …, "restore_ms": …, "thaw_ms": …}
  const auto steps = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  require(steps.is_object() && steps.value("restore_ms", -1.0) >= 0)
      << "restore --json printed no restore_ms: " << r.out;
  figures_.criu_restore_ms = steps.value("restore_ms", 0.0);
  figures_.pid_wait_ms = steps.value("wait_ms", 0.0);
  figures_.thaw_ms = steps.value("thaw_ms", 0.0);
  for (pid_t restored : tree_pids)
    restored_.emplace_back(restored);
  require(answer.ok()) << service_.label << " after restore: " << answer.describe();
  const std::string value = first_value(answer.reply.get());
  require(value == service_.expected_answer)
      << service_.label << " answered " << value << " after restore, not " << service_.expected_answer;
  const std::string owner = owner_of(admin_.get(), service_.bus_name);
  require(owner == unique_name) << service_.bus_name << " is owned by " << owner << " after restore, not "
                                << unique_name;
  const std::uint32_t owner_pid = connection_uint(admin_.get(), "GetConnectionUnixProcessID", unique_name);
  require(owner_pid == static_cast<std::uint32_t>(pid))
      << unique_name << " is pid " << owner_pid << " after restore, not " << pid;
  for (pid_t restored : tree_pids)
    require(criu::process_exists(restored)) << "pid " << restored << " was not restored";
  const auto files_after = open_files(pid);
  require(files_after == files_before_) << "not the same descriptors (or CRIU's left open): "
                                        << describe(files_before_) << " before, " << describe(files_after)
                                        << " after";
}

void ServiceRoundTrip::expect_signal_after_restore()
{
  if (service_.signal_rule.empty())
    return;  // it declares no signal (Introspect): none to wait for
  SdBus subscriber = host_.open_bus();
  SignalCollector signals(subscriber.get(), service_.signal_rule);
  service_.make_it_signal(host_, admin_.get());
  require(signals.wait_for(1, 20s)) << service_.label << " emitted no signal after restore: "
                                    << service_.signal_rule;
}

void ServiceRoundTrip::reconnect_admin() { admin_ = host_.open_bus(); }

std::string ServiceRoundTrip::summary() const
{
  std::ostringstream line;
  const RoundTripFigures &f = figures_;
  line << service_.label << ": cold start → first answer " << f.cold_start_ms << " ms; checkpoint "
       << f.checkpoint_ms << " ms; restore → first answer " << f.restore_ms << " ms (criu restore "
       << f.criu_restore_ms << " ms, wait for pids " << f.pid_wait_ms << " ms, thaw " << f.thaw_ms
       << " ms); images " << f.image_bytes / 1024 << " KiB";
  return line.str();
}

} // namespace dcp::test::system
