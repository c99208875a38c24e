// SPDX-License-Identifier: GPL-2.0-or-later
// "Reboot": a frozen service is dumped with CRIU, then the bus daemon and
// every other client die at once (kill -9, as a power cut would), a fresh
// daemon starts with the same <checkpoint_dir> (its records come back as
// detached frozen connections), and `criu restore` puts the service back
// into its original connection through our plugin's Reattach.
// Needs root (CRIU does).
#define BOOST_TEST_MODULE criu_reboot
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace dcp::test::criu;
using namespace std::chrono_literals;

namespace {

constexpr const char *kPeerName = "org.dbuscheckpoint.Peer";

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

// One sd-bus and one libdbus (python3-dbus) client; GDBus's restore into
// the same bus is covered by test_criu_plugin.
const auto kRebootKinds =
    boost::unit_test::data::make(std::vector<SampleKind>{SampleKind::SdBus, SampleKind::PythonDbus});

bool has_name(const FrozenEntry &entry, const std::string &name)
{
  return std::find(entry.names.begin(), entry.names.end(), name) != entry.names.end();
}

} // namespace

BOOST_DATA_TEST_CASE(restore_after_the_bus_was_killed_and_restarted, kRebootKinds, kind)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SampleService service(kind, bus);
  SampleService peer(SampleKind::SdBus, bus, named(kPeerName));  // killed with the bus
  const std::string name = service.well_known_name();
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 1u);
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 2u);

  const std::string id = freeze(admin.get(), name);
  BOOST_TEST(name_has_owner(admin.get(), name), "frozen");
  CheckpointedService checkpointed(service, bus, admin, id, [&] {
    BOOST_TEST(name_has_owner(admin.get(), name), "dumped");
    // Power cut: the bus first, then every other client.
    const pid_t old_bus = bus.pid();
    bus.kill_hard();
    BOOST_REQUIRE(kill(peer.pid(), SIGKILL) == 0);
    BOOST_REQUIRE(peer.wait_for_exit(10s).has_value());
    admin.reset();  // the test's own connection went with the bus

    bus.start();
    BOOST_REQUIRE_NE(bus.pid(), old_bus);
    admin = open_system_bus();
    const std::vector<FrozenEntry> frozen = list_frozen(admin.get());
    BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
    BOOST_TEST(frozen[0].id == id, "the record came back from <checkpoint_dir>");
    BOOST_TEST(frozen[0].unique_name == service.unique_name());
    BOOST_TEST(!frozen[0].attached);
    BOOST_TEST(has_name(frozen[0], name));
    BOOST_TEST(name_has_owner(admin.get(), name), "restarted bus, before the restore");
    BOOST_TEST(name_owner(admin.get(), name) == service.unique_name());
    BOOST_TEST(!name_has_owner(admin.get(), kPeerName), "a client that was not frozen is gone");
    CallResult frozen_call = call(admin.get(), sample_method(name, "Get"));
    BOOST_TEST(frozen_call.error_name == kNameFrozen, frozen_call.describe());
  });
  BOOST_TEST(name_has_owner(admin.get(), name), "restored, still frozen");
  thaw(admin.get(), id);

  expect_service_continues(admin.get(), name, service.unique_name());
  BOOST_TEST(name_has_owner(admin.get(), name), "thawed");
  BOOST_TEST(list_frozen(admin.get()).empty());
}
