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

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
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

// A network and a mount namespace held by a `sleep` (the holder), with a
// tmpfs on /run, and our bus daemon on /run/dbus/system_bus_socket.
// Nothing is mounted outside: the mounts go with the namespaces, which go
// with their last process (daemon and holder are stopped by the members'
// destructors, and die with the test if it is killed: --pdeathsig).
class Host {
 public:
  Host(const std::string &name, const fs::path &work_dir) : dir_(work_dir / name)
  {
    fs::create_directory(dir_);
    // lo up as on any host: CRIU probes TCP repair on 127.0.0.1 at start.
    const std::string prepare = "set -e; ip link set lo up; mount -t tmpfs -o mode=0755 dcp-host-" +
                                name + " /run; mkdir -p " + kBusSocket.parent_path().string() + " " +
                                kCheckpointDir.string() + " " + kImagesDir.string() +
                                "; exec sleep infinity";
    holder_ = ChildProcess({"setpriv", "--pdeathsig", "KILL", "unshare", "--mount", "--net",
                            "--propagation", "private", "--", "sh", "-c", prepare},
                           (dir_ / "host.log").string());
    if (!wait_until([&] { return fs::exists(outside(kImagesDir)) || !holder_.running(); }, 10s) ||
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
  CommandPrefix enter() const
  {
    return {"nsenter", "--target", std::to_string(holder_.pid()), "--net", "--mount", "--",
            "env",     "DBUS_SYSTEM_BUS_ADDRESS=" + kBusAddress};
  }
  // A path of this host, as the test (outside) reaches it.
  fs::path outside(const fs::path &inside) const
  {
    return fs::path("/proc") / std::to_string(holder_.pid()) / "root" / inside.relative_path();
  }
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
  ChildProcess holder_;  // first: it outlives the daemon
  ChildProcess daemon_;
};

// A sample service started on a host, as a session leader (CRIU restores a
// detached task only if it leads its session).
struct HostedService {
  HostedService(const Host &host, SampleKind kind) : name(kSampleDefaultName)
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
