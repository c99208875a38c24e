// SPDX-License-Identifier: GPL-2.0-or-later
// "Another host": a service dumped with CRIU on host A is restored on host
// B, into its original bus connection, which B's bus adopts (our plugin
// Imports the record the dump kept, then Reattaches).  Needs root.
//
// A host here is a network and a mount namespace of its own on this
// machine (see Host): a tmpfs on /run gives it its own
// /run/dbus/system_bus_socket, the standard system bus socket, where our
// patched daemon listens.  Everything run "on" a host (the daemon, the
// service, CRIU, a caller) enters both namespaces with nsenter; the test
// itself reaches a host's files, and its bus, through /proc/PID/root.
// CRIU must run in the service's namespaces: the plugin's sock_diag lookup
// sees only its own network namespace, and the bus path the dump records
// (/run/dbus/system_bus_socket) is A's bus in A's mount namespace and B's
// in B's.
//
// Both hosts share this machine's PID namespace: a pid namespace per host
// would make each service a descendant of that namespace's init, which
// CRIU can then only dump together with the whole namespace.  The dumped
// PID is free for the restore on B once the dumped process is gone.
#define BOOST_TEST_MODULE criu_cross_host
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <future>
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
#include "checkpoint_calls.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "raw-bus/raw_bus.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace dcp::test::criu;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

// Named, not anonymous: test cases are templates whose lambdas capture its
// types.
namespace cross_host_test {

// Inside every host, on the host's own tmpfs.
const fs::path kBusSocket = "/run/dbus/system_bus_socket";
const fs::path kCheckpointDir = "/run/dcp-host/checkpoint";
const fs::path kImagesDir = "/run/dcp-host/images";
const std::string kBusAddress = "unix:path=" + kBusSocket.string();

// Owners of the sample services' names, as their own policy file would
// grant on a real host.
constexpr const char *kSamplePolicy =
    "<policy user=\"root\"><allow own_prefix=\"org.dbuscheckpoint\"/></policy>"
    "<policy context=\"default\"><allow send_destination_prefix=\"org.dbuscheckpoint\"/></policy>";

// The built system.conf as a host's bus runs it: its standard socket and
// pidfile stay (--nopidfile and --nofork win over <pidfile> and <fork/>),
// it runs as root (its checkpoint_dir is on root's tmpfs), logs to stderr
// (a file the test reads) instead of syslog, and nothing of this machine's
// /etc is included: that is the other host's configuration.
std::string host_bus_config()
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

bool socket_accepts(const fs::path &path)
{
  dbus_checkpoint::raw_bus::UniqueFd connected;
  return static_cast<bool>(dbus_checkpoint::raw_bus::connect_unix_stream(path, connected));
}

// The process that holds a host's namespaces: the holder itself, or with
// a pid namespace of its own, the holder's child (unshare --fork), its
// init.
pid_t namespace_process(pid_t holder, bool own_pids)
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
    BOOST_REQUIRE_GE(sd_bus_new(&raw), 0);
    SdBus bus(raw);
    const std::string address = "unix:path=" + outside(kBusSocket).string();
    const char *unique_name = nullptr;  // waits for Hello's reply
    BOOST_REQUIRE_GE(sd_bus_set_address(bus.get(), address.c_str()), 0);
    BOOST_REQUIRE_GE(sd_bus_set_bus_client(bus.get(), 1), 0);
    BOOST_REQUIRE_GE(sd_bus_start(bus.get()), 0);
    BOOST_REQUIRE_GE(sd_bus_get_unique_name(bus.get(), &unique_name), 0);
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
    BOOST_REQUIRE_MESSAGE(
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
std::uint64_t busctl_uint64(const Host &host, const std::string &name, const char *member)
{
  std::vector<std::string> argv = host.enter();
  argv.insert(argv.end(), {"busctl", "--system", "call", name, kSampleObjectPath, kSampleInterface, member});
  CommandResult result = run_command(argv, 15s);
  BOOST_REQUIRE_MESSAGE(result.ok(), "busctl " << member << " on " << host.dir() << ": " << result.describe());
  std::smatch number;
  BOOST_REQUIRE_MESSAGE(std::regex_search(result.out, number, std::regex(R"(^t (\d+))")), result.out);
  return std::stoull(number[1]);
}

const auto kCrossHostKinds =
    boost::unit_test::data::make(std::vector<SampleKind>{SampleKind::SdBus, SampleKind::PythonDbus});

} // namespace cross_host_test
using namespace cross_host_test;

BOOST_DATA_TEST_CASE(restore_on_another_host_continues_the_connection, kCrossHostKinds, kind)
{
  WorkDir work("dcp-xhost");  // every host sees it: hosts share /tmp with this machine
  Host a("a", work.path());
  Host b("b", work.path());
  // B is a busy bus by the time the service comes back: its own clients
  // hold unique names of their own (each bus starts numbering at a random
  // :1.N, so they do not collide with the one the service brings along).
  HostedService service(a, kind);
  std::vector<SdBus> b_clients;
  for (int i = 0; i < 20; i++)
    b_clients.push_back(b.open_bus());
  SdBus on_a = a.open_bus();
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 1u);
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 2u);
  const std::string id = freeze(on_a.get(), service.name);

  const pid_t pid = service.process.pid();
  CriuRun dump = criu_dump(pid, kImagesDir, a.enter());
  BOOST_REQUIRE_MESSAGE(dump.result.ok(), "criu dump on A: " << dump.result.describe()
                                                             << tail_of(a.outside(kImagesDir) / "dump.log"));
  BOOST_REQUIRE(wait_until([&] { return !service.process.running(); }, 10s));
  BOOST_REQUIRE(wait_until_gone(pid, 10s));
  BOOST_TEST(wait_until([&] { return !list_frozen(on_a.get()).at(0).attached; }, 5s),
             "detached on A once its process is gone");

  // The images move to B; A keeps only its own copy and its record.
  fs::copy(a.outside(kImagesDir), b.outside(kImagesDir), fs::copy_options::recursive);
  std::optional<RestoredProcess> restored;
  CriuRun restore = criu_restore(kImagesDir, b.enter());
  if (process_exists(pid))
    restored.emplace(pid);
  const fs::path restore_log = b.outside(kImagesDir) / "restore.log";
  BOOST_REQUIRE_MESSAGE(restore.result.ok(),
                        "criu restore on B: " << restore.result.describe() << tail_of(restore_log)
                                              << "--- B's bus:\n" << read_file(b.bus_log()));
  BOOST_REQUIRE(process_exists(pid));
  const std::string log = read_file(restore_log);
  BOOST_TEST(log.find("did not know checkpoint " + id) != std::string::npos, tail_of(restore_log));
  BOOST_TEST(log.find("reattached to the bus at " + kBusSocket.string()) != std::string::npos,
             tail_of(restore_log));
  BOOST_TEST_MESSAGE(to_string(kind) << ": criu dump on A " << dump.wall.count() << " ms, restore on B "
                                     << restore.wall.count() << " ms, images "
                                     << directory_bytes(b.outside(kImagesDir)) / 1024 << " KiB");

  SdBus on_b = b.open_bus();
  const std::vector<FrozenEntry> frozen = list_frozen(on_b.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].attached, "attached to the restored process's socket on B");
  BOOST_TEST(frozen[0].unique_name == service.unique_name);
  thaw(on_b.get(), frozen[0].id);

  expect_service_continues(on_b.get(), service.name, service.unique_name);
  BOOST_TEST(busctl_uint64(b, service.name, "Increment") == 4u, "a caller on B reaches it");
  BOOST_TEST(list_frozen(on_b.get()).empty());

  // A still holds the frozen original: its callers keep getting NameFrozen.
  CallResult on_a_call = call(on_a.get(), sample_method(service.name, "Get"));
  BOOST_TEST(on_a_call.error_name == kNameFrozen, on_a_call.describe());
}

namespace cross_host_test {

// A's and B's ends of the link between them (a veth pair), on a network of
// their own.
constexpr const char *kAddressA = "10.77.0.1";
constexpr const char *kAddressB = "10.77.0.2";

// Links the two hosts' network namespaces: a veth pair, A's end kAddressA,
// B's end kAddressB, both up.  The pair goes with the namespaces.
void link_hosts(const Host &a, const Host &b)
{
  const std::string suffix = std::to_string(::getpid() % 100000);
  const std::string end_a = "dcpa" + suffix, end_b = "dcpb" + suffix;
  for (const std::vector<std::string> &argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", end_a, "netns", std::to_string(a.namespaces()), "type", "veth",
            "peer", "name", end_b, "netns", std::to_string(b.namespaces())}}) {
    CommandResult result = run_command(argv, 10s);
    BOOST_REQUIRE_MESSAGE(result.ok(), "ip link add: " << result.describe());
  }
  for (const auto &[host, end, address] :
       {std::tuple{&a, end_a, kAddressA}, std::tuple{&b, end_b, kAddressB}}) {
    std::vector<std::string> argv = host->enter();
    argv.insert(argv.end(), {"sh", "-c",
                             "ip addr add " + std::string(address) + "/24 dev " + end +
                                 " && ip link set " + end + " up"});
    CommandResult result = run_command(argv, 10s);
    BOOST_REQUIRE_MESSAGE(result.ok(), "address on " << end << ": " << result.describe());
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
CallerLog call_until(const Host &host, const std::string &name, const std::atomic<bool> &stop)
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

std::vector<std::string> with_prefix(CommandPrefix prefix, const std::vector<std::string> &argv)
{
  prefix.insert(prefix.end(), argv.begin(), argv.end());
  return prefix;
}

} // namespace cross_host_test

// migrate: the service's bus connections frozen on A, criu dump
// --lazy-pages serves its pages from A; receive on B restores it at once
// (B's bus Imports the records) and fetches the pages; A's frozen
// connections are discarded after the last page.  Callers on A and on B
// show the downtime; the 64 MiB heap comes through byte for byte.
BOOST_AUTO_TEST_CASE(migrate_moves_a_service_under_load_with_its_pages_after_it)
{
  constexpr unsigned kHeapMb = 64;
  WorkDir work("dcp-migrate");  // shared by both hosts, as storage both mount
  Host a("a", work.path());
  Host b("b", work.path(), /*own_pids=*/true);
  link_hosts(a, b);
  HostedService service(a, SampleKind::SdBus, {"--heap-mb", std::to_string(kHeapMb)});
  SdBus on_a = a.open_bus();
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 1u);
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 2u);
  const pid_t pid = service.process.pid();
  BOOST_REQUIRE(heap_mismatch(heap_of(pid, kHeapMb)).empty());

  std::atomic<bool> stop{false};
  auto callers_on_a = std::async(std::launch::async, [&] { return call_until(a, service.name, stop); });
  auto callers_on_b = std::async(std::launch::async, [&] { return call_until(b, service.name, stop); });
  std::this_thread::sleep_for(200ms);  // both answered (A) or refused (B) a while

  const fs::path dir = work.path() / "migration";
  const std::string port = std::to_string(27000 + ::getpid() % 1000);
  auto received = std::async(std::launch::async, [&] {
    return run_command(with_prefix(b.enter(), {DCP_CLI, "receive", "-D", dir.string(), "--wait", "60",
                                               "--json"}),
                       120s);
  });
  const auto migrate_started = std::chrono::steady_clock::now();
  CommandResult migrated = run_command(
      with_prefix(a.enter(), {DCP_CLI, "migrate", service.name, "-D", dir.string(), "--page-server",
                              std::string(kAddressA) + ":" + port, "--json"}),
      120s);
  const auto migrate_ended = std::chrono::steady_clock::now();
  CommandResult receive = received.get();
  std::this_thread::sleep_for(200ms);  // B's callers get answers a while
  stop = true;
  const CallerLog on_a_log = callers_on_a.get();
  const CallerLog on_b_log = callers_on_b.get();
  BOOST_REQUIRE_MESSAGE(migrated.ok(), "migrate: " << migrated.describe() << tail_of(dir / "dump.log"));
  BOOST_REQUIRE_MESSAGE(receive.ok(), "receive: " << receive.describe() << tail_of(dir / "restore.log")
                                                  << tail_of(dir / "lazy-pages.log") << "--- B's bus:\n"
                                                  << read_file(b.bus_log()));

  // B: the same connection, its counter, its heap.
  SdBus on_b = b.open_bus();
  BOOST_TEST(list_frozen(on_b.get()).empty());
  expect_service_continues(on_b.get(), service.name, service.unique_name);
  BOOST_TEST(busctl_uint64(b, service.name, "Increment") == 4u, "a caller on B reaches it");
  const pid_t on_b_pid = b.outside_pid(pid);
  BOOST_REQUIRE_MESSAGE(on_b_pid > 0, "pid " << pid << " runs in B's pid namespace");
  const std::string heap = heap_of(on_b_pid, kHeapMb);
  BOOST_REQUIRE_MESSAGE(!heap.empty(), "the restored process has its heap");
  BOOST_TEST(heap_mismatch(heap).empty(), "the heap on B: " << heap_mismatch(heap));

  // A: the service is gone and its names are released.
  BOOST_TEST(wait_until([&] { return !service.process.running(); }, 10s), "criu ended it on A");
  BOOST_TEST(list_frozen(on_a.get()).empty());
  BOOST_TEST(!name_has_owner(on_a.get(), service.name));

  // The callers: answered on A, then NameFrozen at once (none waited long),
  // then answered on B.
  const auto errors_of = [](const CallerLog &log) {
    std::map<std::string, std::size_t> errors;
    for (const CallerLog::Call &call : log.calls)
      errors[call.error.empty() ? "answered" : call.error]++;
    std::string text;
    for (const auto &[error, count] : errors)
      text += " " + error + " " + std::to_string(count);
    return text;
  };
  BOOST_TEST_MESSAGE("calls on A:" << errors_of(on_a_log) << "; on B:" << errors_of(on_b_log));
  BOOST_TEST(on_a_log.count(kNameFrozen) > 0u);
  BOOST_TEST(on_a_log.longest() < 1000ms, "no call on A waited " << on_a_log.longest().count() << " ms");
  BOOST_TEST(on_b_log.longest() < 1000ms, "no call on B waited " << on_b_log.longest().count() << " ms");
  const auto last_on_a = on_a_log.last_answer();
  const auto first_on_b = on_b_log.first_answer();
  BOOST_REQUIRE(last_on_a && first_on_b);
  BOOST_TEST((*first_on_b > *last_on_a));
  const auto ms = [](auto duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
  };
  BOOST_TEST_MESSAGE("migrate of a " << kHeapMb << " MiB service under load: downtime (last answer on A "
                     "-> first answer on B) " << ms(*first_on_b - *last_on_a) << " ms; migrate ran "
                     << ms(migrate_ended - migrate_started) << " ms; migrate --json: "
                     << migrated.out << "receive --json: " << receive.out);
}

// Nobody fetches the pages (no receive on any host): at --criu-timeout
// migrate stops criu, which resumes the process; its connection is thawed
// and the manifest removed, so that a late receive restores nothing.
BOOST_AUTO_TEST_CASE(migrate_without_a_destination_gives_the_service_back)
{
  WorkDir work("dcp-migrate-alone");
  Host a("a", work.path());
  HostedService service(a, SampleKind::SdBus);
  SdBus on_a = a.open_bus();
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 1u);
  const fs::path dir = work.path() / "migration";
  CommandResult migrated = run_command(
      with_prefix(a.enter(), {DCP_CLI, "--criu-timeout", "3", "migrate", service.name, "-D",
                              dir.string(), "--page-server", "127.0.0.1:" +
                              std::to_string(28000 + ::getpid() % 1000)}),
      60s);
  BOOST_TEST(migrated.exit_status == 1, migrated.describe());
  BOOST_TEST(migrated.err.find("was still serving pages at --criu-timeout (3 s): killed") !=
                 std::string::npos, migrated.err);
  BOOST_TEST(migrated.err.find("resumes here") != std::string::npos, migrated.err);
  BOOST_TEST(migrated.err.find("1 bus connection thawed again") != std::string::npos, migrated.err);
  BOOST_TEST(!fs::exists(dir / "dbus-checkpoint.json"));
  BOOST_TEST(service.process.running(), "the service runs on A");
  BOOST_TEST(list_frozen(on_a.get()).empty());
  BOOST_TEST(sample_uint64(on_a.get(), service.name, "Increment") == 2u, "it continues on A");
}
