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
#include "hosts.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace dcp::test::criu;
using namespace dcp::test::hosts;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

// Named, not anonymous: test cases are templates whose lambdas capture its
// types.
namespace cross_host_test {

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

  const fs::path dir = work.path() / "migration";
  MigrationRun run = migrate_between(a, b, service, dir, DCP_CLI, std::to_string(27000 + ::getpid() % 1000));
  const CommandResult &migrated = run.migrate;
  const CommandResult &receive = run.receive;
  const CallerLog &on_a_log = run.on_a;
  const CallerLog &on_b_log = run.on_b;
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
  const std::optional<double> downtime = run.downtime_ms();
  BOOST_REQUIRE(downtime.has_value());
  BOOST_TEST(*downtime > 0.0);
  BOOST_TEST_MESSAGE("migrate of a " << kHeapMb << " MiB service under load: downtime (last answer on A "
                     "-> first answer on B) " << *downtime << " ms; migrate ran " << run.migrate_ms
                     << " ms; migrate --json: " << migrated.out << "receive --json: " << receive.out);
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
