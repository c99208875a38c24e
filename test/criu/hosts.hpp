// SPDX-License-Identifier: GPL-2.0-or-later
// "Hosts" on this machine for the cross-host tests and the migration
// benchmark: a network and a mount namespace each (optionally a pid
// namespace), with our bus daemon on the standard system socket, a sample
// service started on one, a veth link between two, and callers that log
// what each call got.  Needs root.  Failures throw std::runtime_error with
// what went wrong (usable outside Boost.Test).
//
// A host here is a network and a mount namespace of its own on this
// machine (see Host): a tmpfs on /run gives it its own
// /run/dbus/system_bus_socket, the standard system bus socket, where our
// patched daemon listens.  Everything run "on" a host (the daemon, the
// service, CRIU, a caller) enters its namespaces with nsenter; the test
// itself reaches a host's files, and its bus, through /proc/PID/root.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bus_client.hpp"
#include "criu_support.hpp"
#include "process.hpp"
#include "raw-bus/raw_bus.hpp"
#include "sample_service.hpp"

// Throws std::runtime_error with the streamed message unless `condition`.
#define DCP_HOSTS_REQUIRE(condition, message)                                                     \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::ostringstream dcp_hosts_message;                                                       \
      dcp_hosts_message << message;                                                               \
      throw std::runtime_error(dcp_hosts_message.str());                                          \
    }                                                                                             \
  } while (false)

namespace dcp::test::hosts {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace dcp::test::criu;

// A negative errno from sd-bus: an exception naming the call.
inline void require_ok(int result, const char *what)
{
  if (result < 0)
    throw std::runtime_error(std::string(what) + ": " + std::strerror(-result));
}

// Inside every host, on the host's own tmpfs.
inline const fs::path kBusSocket = "/run/dbus/system_bus_socket";
inline const fs::path kCheckpointDir = "/run/dcp-host/checkpoint";
inline const fs::path kImagesDir = "/run/dcp-host/images";
inline const std::string kBusAddress = "unix:path=" + kBusSocket.string();

// Owners of the sample services' names, as their own policy file would
// grant on a real host.
inline constexpr const char *kSamplePolicy =
    "<policy user=\"root\"><allow own_prefix=\"org.dbuscheckpoint\"/></policy>"
    "<policy context=\"default\"><allow send_destination_prefix=\"org.dbuscheckpoint\"/></policy>";

// The built system.conf as a host's bus runs it: its standard socket and
// pidfile stay (--nopidfile and --nofork win over <pidfile> and <fork/>),
// it runs as root (its checkpoint_dir is on root's tmpfs), logs to stderr
// (a file the test reads) instead of syslog, and nothing of this machine's
// /etc is included: that is the other host's configuration.
inline std::string host_bus_config()
{
  const std::string built = built_system_conf_path();
  std::string config = read_file(built);
  if (config.find("<listen>" + kBusAddress + "</listen>") == std::string::npos)
    throw std::runtime_error(built + " does not listen on " + kBusAddress);
  const std::pair<const char *, std::string> rewrites[] = {
      {R"(<user>[^<]*</user>)", ""},
      {R"(<syslog/>)", ""},
      {R"(<include[^>]*>/etc/[^<]*</include>)", ""},
      {R"(<includedir>/etc/[^<]*</includedir>)", ""},
      {R"(<checkpoint_dir>[^<]*</checkpoint_dir>)",
       "<checkpoint_dir>" + kCheckpointDir.string() + "</checkpoint_dir>"},
      {R"(</busconfig>)", std::string(kSamplePolicy) + "\n</busconfig>"},
  };
  for (const auto &[pattern, replacement] : rewrites)
    config = std::regex_replace(config, std::regex(pattern), replacement);
  return config;
}

inline bool socket_accepts(const fs::path &path)
{
  dbus_checkpoint::raw_bus::UniqueFd connected;
  return static_cast<bool>(dbus_checkpoint::raw_bus::connect_unix_stream(path, connected));
}

// The process that holds a host's namespaces: the holder itself, or with
// a pid namespace of its own, the holder's child (unshare --fork), its
// init.
inline pid_t namespace_process(pid_t holder, bool own_pids)
{
  if (!own_pids)
    return holder;
  std::ifstream children("/proc/" + std::to_string(holder) + "/task/" + std::to_string(holder) +
                         "/children");
  pid_t child = 0;
  return children >> child ? child : 0;
}

// A network and a mount namespace held by a `sleep` (the holder), with a
// tmpfs on /run, and our bus daemon on /run/dbus/system_bus_socket.
// Nothing is mounted outside: the mounts go with the namespaces, which go
// with their last process (daemon and holder are stopped by the members'
// destructors, and die with the test if it is killed: --pdeathsig).  With
// `own_pids` the host has a pid namespace too (its init the `sleep`, a
// /proc of its own): a host that is only restored into, as migrate's
// destination, whose restored pid must be free while the source's process
// still exists.
class Host {
 public:
  Host(const std::string &name, const fs::path &work_dir, bool own_pids = false)
      : dir_(work_dir / name), own_pids_(own_pids)
  {
    fs::create_directory(dir_);
    // lo up as on any host: CRIU probes TCP repair on 127.0.0.1 at start.
    const std::string prepare = "set -e; ip link set lo up; mount -t tmpfs -o mode=0755 dcp-host-" +
                                name + " /run; mkdir -p " + kBusSocket.parent_path().string() + " " +
                                kCheckpointDir.string() + " " + kImagesDir.string() +
                                "; exec sleep infinity";
    std::vector<std::string> holder = {"setpriv", "--pdeathsig", "KILL", "unshare", "--mount",
                                       "--net", "--propagation", "private"};
    if (own_pids)
      holder.insert(holder.end(), {"--pid", "--fork", "--kill-child", "--mount-proc"});
    holder.insert(holder.end(), {"--", "sh", "-c", prepare});
    holder_ = ChildProcess(holder, (dir_ / "host.log").string());
    if (!wait_until([&] {
          namespaces_ = namespace_process(holder_.pid(), own_pids_);
          return (namespaces_ > 0 && fs::exists(outside(kImagesDir))) || !holder_.running();
        }, 10s) ||
        !holder_.running())
      throw std::runtime_error("host " + name + " did not come up: " + read_file(dir_ / "host.log"));

    std::ofstream(dir_ / "system.conf") << host_bus_config();
    std::vector<std::string> daemon = enter();
    daemon.insert(daemon.begin(), {"setpriv", "--pdeathsig", "KILL"});
    daemon.insert(daemon.end(), {dbus_daemon_path(), "--config-file=" + (dir_ / "system.conf").string(),
                                 "--nofork", "--nopidfile"});
    daemon_ = ChildProcess(daemon, bus_log().string());
    if (!wait_until([&] { return socket_accepts(outside(kBusSocket)) || !daemon_.running(); }, 20s) ||
        !daemon_.running())
      throw std::runtime_error("bus of host " + name + " did not start: " + read_file(bus_log()));
  }

  // Runs what follows it in this host's namespaces, with the host's bus as
  // the system bus.  nsenter without --fork execs: the pid is the command's.
  // With a pid namespace nsenter forks: the command is its child.
  CommandPrefix enter() const
  {
    CommandPrefix prefix{"nsenter", "--target", std::to_string(namespaces_), "--net", "--mount"};
    if (own_pids_)
      prefix.push_back("--pid");
    prefix.insert(prefix.end(), {"--", "env", "DBUS_SYSTEM_BUS_ADDRESS=" + kBusAddress});
    return prefix;
  }
  // A path of this host, as the test (outside) reaches it.
  fs::path outside(const fs::path &inside) const
  {
    return fs::path("/proc") / std::to_string(namespaces_) / "root" / inside.relative_path();
  }
  // The process of this host's pid `pid` as the test sees it (with a pid
  // namespace of its own: by NSpid), or 0.
  pid_t outside_pid(pid_t pid) const
  {
    if (!own_pids_)
      return pid;
    for (const auto &entry : fs::directory_iterator("/proc")) {
      std::ifstream status(entry.path() / "status");
      for (std::string line; std::getline(status, line);)
        if (line.starts_with("NSpid:")) {
          std::istringstream ids(line.substr(6));
          std::vector<pid_t> levels;
          for (pid_t id = 0; ids >> id;)
            levels.push_back(id);
          std::error_code gone;
          if (levels.size() == 2 && levels[1] == pid &&
              fs::equivalent(entry.path() / "ns/pid",
                             fs::path("/proc") / std::to_string(namespaces_) / "ns/pid", gone))
            return levels[0];
        }
    }
    return 0;
  }
  // The network namespace's process, for `ip link set DEV netns PID`.
  pid_t namespaces() const { return namespaces_; }
  // A connection of the test's to this host's bus.
  SdBus open_bus() const
  {
    sd_bus *raw = nullptr;
    require_ok(sd_bus_new(&raw), "sd_bus_new(&raw)");
    SdBus bus(raw);
    const std::string address = "unix:path=" + outside(kBusSocket).string();
    const char *unique_name = nullptr;  // waits for Hello's reply
    require_ok(sd_bus_set_address(bus.get(), address.c_str()), "sd_bus_set_address(bus.get(), address.c_str())");
    require_ok(sd_bus_set_bus_client(bus.get(), 1), "sd_bus_set_bus_client(bus.get(), 1)");
    require_ok(sd_bus_start(bus.get()), "sd_bus_start(bus.get())");
    require_ok(sd_bus_get_unique_name(bus.get(), &unique_name), "sd_bus_get_unique_name(bus.get(), &unique_name)");
    return bus;
  }
  fs::path dir() const { return dir_; }
  fs::path bus_log() const { return dir_ / "dbus-daemon.log"; }

 private:
  fs::path dir_;
  bool own_pids_ = false;
  ChildProcess holder_;  // first: it outlives the daemon
  pid_t namespaces_ = 0;  // the holder, or its child, the pid namespace's init
  ChildProcess daemon_;
};

// A sample service started on a host, as a session leader (CRIU restores a
// detached task only if it leads its session).
struct HostedService {
  HostedService(const Host &host, SampleKind kind, const std::vector<std::string> &options = {})
      : name(kSampleDefaultName)
  {
    const fs::path ready = host.dir() / "sample.ready";
    const fs::path log = host.dir() / "sample.log";
    // Its stdin and log are opened again inside the host: CRIU, there,
    // knows files only on the host's mounts (ChildProcess opened them on
    // this machine's, before nsenter).
    std::vector<std::string> argv = host.enter();
    argv.insert(argv.end(), {"sh", "-c", R"(log=$1; shift; exec "$@" </dev/null >>"$log" 2>&1)", "sh",
                             log.string()});
    for (std::string &word : sample_command(kind))
      argv.push_back(std::move(word));
    argv.insert(argv.end(), {"--name", name, "--ready-file", ready.string()});
    argv.insert(argv.end(), options.begin(), options.end());
    process = ChildProcess(argv, (host.dir() / "sample-launch.log").string(), /*new_session=*/true);
    DCP_HOSTS_REQUIRE(
        wait_until([&] { return fs::exists(ready) || !process.running(); }, 30s) && fs::exists(ready),
        to_string(kind) << " did not get ready: " << read_file(log));
    unique_name = read_file(ready);
    while (!unique_name.empty() && unique_name.back() == '\n')
      unique_name.pop_back();
  }

  std::string name;
  std::string unique_name;
  ChildProcess process;
};

// sample_uint64 from a process of the host: busctl on its system bus.
inline std::uint64_t busctl_uint64(const Host &host, const std::string &name, const char *member)
{
  std::vector<std::string> argv = host.enter();
  argv.insert(argv.end(), {"busctl", "--system", "call", name, kSampleObjectPath, kSampleInterface, member});
  CommandResult result = run_command(argv, 15s);
  DCP_HOSTS_REQUIRE(result.ok(), "busctl " << member << " on " << host.dir() << ": " << result.describe());
  std::smatch number;
  DCP_HOSTS_REQUIRE(std::regex_search(result.out, number, std::regex(R"(^t (\d+))")), result.out);
  return std::stoull(number[1]);
}


// A's and B's ends of the link between them (a veth pair), on a network of
// their own.
inline constexpr const char *kAddressA = "10.77.0.1";
inline constexpr const char *kAddressB = "10.77.0.2";

// Links the two hosts' network namespaces: a veth pair, A's end kAddressA,
// B's end kAddressB, both up.  The pair goes with the namespaces.
inline void link_hosts(const Host &a, const Host &b)
{
  const std::string suffix = std::to_string(::getpid() % 100000);
  const std::string end_a = "dcpa" + suffix, end_b = "dcpb" + suffix;
  for (const std::vector<std::string> &argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", end_a, "netns", std::to_string(a.namespaces()), "type", "veth",
            "peer", "name", end_b, "netns", std::to_string(b.namespaces())}}) {
    CommandResult result = run_command(argv, 10s);
    DCP_HOSTS_REQUIRE(result.ok(), "ip link add: " << result.describe());
  }
  for (const auto &[host, end, address] :
       {std::tuple{&a, end_a, kAddressA}, std::tuple{&b, end_b, kAddressB}}) {
    std::vector<std::string> argv = host->enter();
    argv.insert(argv.end(), {"sh", "-c",
                             "ip addr add " + std::string(address) + "/24 dev " + end +
                                 " && ip link set " + end + " up"});
    CommandResult result = run_command(argv, 10s);
    DCP_HOSTS_REQUIRE(result.ok(), "address on " << end << ": " << result.describe());
  }
}

// What a caller of the service saw, call after call, on one bus.
struct CallerLog {
  struct Call {
    std::chrono::steady_clock::time_point at;  // when the answer came
    std::chrono::milliseconds took{};
    std::string error;  // empty: answered
  };
  std::vector<Call> calls;

  std::optional<std::chrono::steady_clock::time_point> last_answer() const
  {
    for (auto call = calls.rbegin(); call != calls.rend(); ++call)
      if (call->error.empty())
        return call->at;
    return std::nullopt;
  }
  std::optional<std::chrono::steady_clock::time_point> first_answer() const
  {
    for (const Call &call : calls)
      if (call.error.empty())
        return call.at;
    return std::nullopt;
  }
  std::chrono::milliseconds longest() const
  {
    std::chrono::milliseconds longest{0};
    for (const Call &call : calls)
      longest = std::max(longest, call.took);
    return longest;
  }
  std::size_t count(const std::string &error) const
  {
    return static_cast<std::size_t>(std::count_if(
        calls.begin(), calls.end(), [&](const Call &call) { return call.error == error; }));
  }
};

// Sends Get every 5 ms on its own connection until `stop`, without
// waiting for earlier answers (as many callers would), and logs each
// answer as it comes.  The last calls are waited for up to 2 s.
inline CallerLog call_until(const Host &host, const std::string &name, const std::atomic<bool> &stop)
{
  SdBus bus = host.open_bus();
  struct Pending {
    CallerLog *log;
    std::chrono::steady_clock::time_point sent;
    std::size_t *open;
  };
  CallerLog log;
  std::size_t open = 0;
  std::vector<std::unique_ptr<Pending>> pending;
  std::vector<SdBusSlot> slots;
  const auto answered = [](sd_bus_message *reply, void *userdata, sd_bus_error *) -> int {
    auto *call = static_cast<Pending *>(userdata);
    const auto now = std::chrono::steady_clock::now();
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    call->log->calls.push_back({now, std::chrono::duration_cast<std::chrono::milliseconds>(now - call->sent),
                                error ? std::string(error->name) : std::string()});
    --*call->open;
    return 0;
  };
  auto next_send = std::chrono::steady_clock::now();
  const auto send = [&] {
    pending.push_back(std::make_unique<Pending>(Pending{&log, std::chrono::steady_clock::now(), &open}));
    sd_bus_slot *slot = nullptr;
    if (sd_bus_call_method_async(bus.get(), &slot, name.c_str(), kSampleObjectPath, kSampleInterface,
                                 "Get", answered, pending.back().get(), "") >= 0) {
      slots.emplace_back(slot);
      ++open;
    }
  };
  const auto deadline_after_stop = [&] { return std::chrono::steady_clock::now() + 2s; };
  std::optional<std::chrono::steady_clock::time_point> drain_until;
  for (;;) {
    if (stop && !drain_until)
      drain_until = deadline_after_stop();
    if (drain_until && (open == 0 || std::chrono::steady_clock::now() > *drain_until))
      break;
    if (!drain_until && std::chrono::steady_clock::now() >= next_send) {
      send();
      next_send += 5ms;
    }
    while (sd_bus_process(bus.get(), nullptr) > 0) {
    }
    sd_bus_wait(bus.get(), 1000);  // µs
  }
  return log;
}

inline std::vector<std::string> with_prefix(CommandPrefix prefix, const std::vector<std::string> &argv)
{
  prefix.insert(prefix.end(), argv.begin(), argv.end());
  return prefix;
}


// What the callers on A's and B's buses saw while a move of the service
// from A to B ran.
struct CallersLogs {
  CallerLog on_a, on_b;

  // The callers' downtime: A's last answer -> B's first.
  std::optional<double> downtime_ms() const
  {
    const auto last_on_a = on_a.last_answer();
    const auto first_on_b = on_b.first_answer();
    if (!last_on_a || !first_on_b || *first_on_b < *last_on_a)
      return std::nullopt;
    return std::chrono::duration<double, std::milli>(*first_on_b - *last_on_a).count();
  }
};

// Runs `move` with a caller of `name` on each host's bus, from 200 ms
// before it to 200 ms after.
template <typename Move>
CallersLogs with_callers(const Host &a, const Host &b, const std::string &name, Move move)
{
  std::atomic<bool> stop{false};
  auto callers_on_a = std::async(std::launch::async, [&] { return call_until(a, name, stop); });
  auto callers_on_b = std::async(std::launch::async, [&] { return call_until(b, name, stop); });
  std::this_thread::sleep_for(200ms);  // both answered (A) or refused (B) a while
  try {
    move();
  } catch (...) {
    stop = true;  // the callers end before the exception leaves
    callers_on_a.wait();
    callers_on_b.wait();
    throw;
  }
  std::this_thread::sleep_for(200ms);  // B's callers get answers a while
  stop = true;
  return {callers_on_a.get(), callers_on_b.get()};
}

// One migration of `service` from `a` to `b` through the built CLI `cli`
// (receive -D DIR on B, migrate on A with its page server on kAddressA:
// `port`), with_callers.
struct MigrationRun : CallersLogs {
  CommandResult migrate, receive;  // both with --json
  double migrate_ms = 0;           // migrate's own run
};

inline MigrationRun migrate_between(const Host &a, const Host &b, const HostedService &service,
                                    const fs::path &dir, const std::string &cli,
                                    const std::string &port)
{
  MigrationRun run;
  static_cast<CallersLogs &>(run) = with_callers(a, b, service.name, [&] {
    auto received = std::async(std::launch::async, [&] {
      return run_command(
          with_prefix(b.enter(), {cli, "receive", "-D", dir.string(), "--wait", "60", "--json"}), 120s);
    });
    const auto migrate_started = std::chrono::steady_clock::now();
    run.migrate = run_command(with_prefix(a.enter(), {cli, "migrate", service.name, "-D", dir.string(),
                                                      "--page-server", std::string(kAddressA) + ":" + port,
                                                      "--json"}),
                              120s);
    run.migrate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                               migrate_started).count();
    run.receive = received.get();
  });
  return run;
}

} // namespace dcp::test::hosts
