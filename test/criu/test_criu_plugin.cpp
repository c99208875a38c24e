// SPDX-License-Identifier: GPL-2.0-or-later
// The CRIU plugin (checkpoint/criu-plugin) with real CRIU, a real patched
// daemon and the sample services: `criu dump` of a service whose bus
// connection is frozen, `criu restore` back into that same connection.
// Needs root (CRIU does).  Shared helpers: criu_support.hpp.
#define BOOST_TEST_MODULE criu_plugin
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "raw_bus_socket.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace dcp::test::criu;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Named, not anonymous: test cases are templates whose lambdas capture it.
namespace criu_plugin_test {

// Replies to an asynchronous call to a sample service: how many, and the
// string the last one carried (if any).
struct AsyncReplies {
  int count = 0;
  std::string text;
  SdBusSlot slot;
};

template <typename... Arguments>
void call_async(sd_bus *bus, const std::string &destination, const char *member,
                AsyncReplies &replies, const char *signature, Arguments... arguments)
{
  sd_bus_slot *slot = nullptr;
  auto on_reply = [](sd_bus_message *reply, void *userdata, sd_bus_error *) {
    auto *received = static_cast<AsyncReplies *>(userdata);
    received->count++;
    const char *text = nullptr;
    if (sd_bus_message_read(reply, "s", &text) > 0)
      received->text = text;
    return 0;
  };
  BOOST_REQUIRE_GE(sd_bus_call_method_async(bus, &slot, destination.c_str(), kSampleObjectPath,
                                            kSampleInterface, member, on_reply, &replies,
                                            signature, arguments...),
                   0);
  replies.slot.reset(slot);
  BOOST_REQUIRE_GE(sd_bus_flush(bus), 0);
}

} // namespace criu_plugin_test
using criu_plugin_test::AsyncReplies;
using criu_plugin_test::call_async;

namespace {

constexpr const char *kPeerName = "org.dbuscheckpoint.Peer";
constexpr const char *kNotFrozenLine = "is not frozen: freeze it first (dbus-checkpoint checkpoint does)";

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

const auto kAllKinds = boost::unit_test::data::make(all_sample_kinds());
// Kinds that stop reading their socket while a handler runs (GDBus reads
// in a worker thread, so bytes never wait in its socket).
const auto kSingleThreadedKinds =
    boost::unit_test::data::make(std::vector<SampleKind>{SampleKind::SdBus, SampleKind::PythonDbus});

} // namespace

BOOST_AUTO_TEST_CASE(plugin_exports_only_its_descriptor)
{
  const std::string path = std::string(DCP_CRIU_PLUGIN_DIR) + "/dbus-checkpoint-criu.so";
  // RTLD_LAZY: criu_get_image_dir is CRIU's, bound only when called.
  void *plugin = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(plugin != nullptr, dlerror());
  BOOST_TEST(dlsym(plugin, "CR_PLUGIN_DESC") != nullptr);
  BOOST_TEST(dlsym(plugin, "dcp_record_parse") == nullptr, "the record library stays inside");
  dlclose(plugin);
}

BOOST_AUTO_TEST_CASE(message_length_reads_the_fixed_header)
{
  namespace raw_bus = dbus_checkpoint::raw_bus;
  Message hello = new_bus_call("org.freedesktop.DBus", "Hello");
  const std::string bytes = marshal(hello.get(), 7);
  BOOST_TEST(raw_bus::message_length(bytes) == bytes.size());
  // Big-endian: body 5, fields 9 (padded to 16): 16 + 16 + 5.
  const std::string big("B\x01\x00\x01\x00\x00\x00\x05\x00\x00\x00\x01\x00\x00\x00\x09", 16);
  BOOST_TEST(raw_bus::message_length(big) == 37u);
  BOOST_TEST(raw_bus::message_length(bytes.substr(0, 15)) == 0u, "too short");
  BOOST_TEST(raw_bus::message_length("x" + bytes.substr(1, 15)) == 0u, "no endianness mark");
  std::string huge = big;
  huge[12] = '\x7f';  // 2 GiB of header fields
  BOOST_TEST(raw_bus::message_length(huge) == 0u);
}

BOOST_DATA_TEST_CASE(restored_service_continues_its_connection, kAllKinds, kind)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SampleService peer(SampleKind::SdBus, bus, named(kPeerName));
  SampleService service(kind, bus);
  const std::string name = service.well_known_name();
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 1u);
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 2u);

  const std::string id = freeze(admin.get(), name);
  CheckpointedService checkpointed(service, bus, admin, id);
  thaw(admin.get(), id);

  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 3u, "memory state continued");
  BOOST_TEST(name_owner(admin.get(), name) == service.unique_name());
  emit_poke(admin.get());  // same connection: delivered before the next call
  BOOST_TEST(sample_uint64(admin.get(), name, "GetPokes") == 1u, "its match rule still works");

  CallResult called = call(admin.get(), sample_method(name, "CallPeer"), "s", kPeerName);
  BOOST_REQUIRE_MESSAGE(called.ok(), called.describe());
  std::vector<std::string> replies;
  BOOST_REQUIRE(wait_until([&] {
    CallResult r = call(admin.get(), sample_method(name, "GetPeerReplies"));
    BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
    replies = read_string_array(r.reply.get());
    return !replies.empty();
  }, 10s));
  BOOST_TEST(replies.size() == 1u);
  BOOST_TEST(replies.at(0).rfind("error", 0) != 0, "its own call was answered: " << replies.at(0));
}

BOOST_DATA_TEST_CASE(bytes_in_flight_are_delivered_once, kSingleThreadedKinds, kind)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SdBus caller = open_system_bus();
  SampleService peer(SampleKind::SdBus, bus, named(kPeerName));
  SampleService service(kind, bus);
  const std::string name = service.well_known_name();

  // Busy: a service stops reading its socket for that long.  The service
  // calls the peer, which answers only once the service is dumped: a reply
  // owed to the service, queued in the bus meanwhile.
  AsyncReplies peer_busy, busy, echo;
  call_async(caller.get(), kPeerName, "Busy", peer_busy, "u", 1000u);
  CallResult called = call(admin.get(), sample_method(name, "CallPeer"), "s", kPeerName);
  BOOST_REQUIRE_MESSAGE(called.ok(), called.describe());
  call_async(caller.get(), name, "Busy", busy, "u", 1500u);
  std::this_thread::sleep_for(200ms);

  // Land unread in its socket: three signals and a call.
  for (int i = 0; i < 3; i++)
    emit_poke(admin.get());
  call_async(caller.get(), name, "Echo", echo, "s", "in flight");
  std::this_thread::sleep_for(100ms);

  const std::string id = freeze(admin.get(), name);
  emit_poke(admin.get());  // queued in the bus while frozen
  CheckpointedService checkpointed(service, bus, admin, id, [&] {
    // The Poke and the peer's reply.
    BOOST_REQUIRE(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 2u; }, 5s));
  });
  const std::string dump_log = read_file((checkpointed.images / "dump.log").string());
  std::smatch unread;
  BOOST_REQUIRE_MESSAGE(std::regex_search(dump_log, unread, std::regex(R"(: (\d+) unread bytes)")),
                        tail_of(checkpointed.images / "dump.log"));
  BOOST_TEST(std::stoul(unread[1]) > 0u, "the signals and the call were in its socket");
  BOOST_TEST_MESSAGE(to_string(kind) << ": " << unread[1] << " unread bytes kept at dump");
  thaw(admin.get(), id);

  BOOST_REQUIRE(process_until(caller.get(), [&] { return busy.count == 1 && echo.count == 1; }, 15s));
  BOOST_TEST(echo.text == "in flight");
  BOOST_TEST(sample_uint64(admin.get(), name, "GetPokes") == 4u, "each signal exactly once");
  process_until(caller.get(), [] { return false; }, 300ms);
  BOOST_TEST(echo.count == 1, "the call was answered once");
  BOOST_TEST(busy.count == 1);
  CallResult peer_replies = call(admin.get(), sample_method(name, "GetPeerReplies"));
  BOOST_REQUIRE_MESSAGE(peer_replies.ok(), peer_replies.describe());
  BOOST_TEST(read_string_array(peer_replies.reply.get()) == std::vector<std::string>{"from " + name},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dump_of_a_connection_not_frozen_fails_and_the_service_runs_on)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SampleService service(SampleKind::SdBus, bus);
  const fs::path images = bus.dir() / "images";
  CriuRun dump = criu_dump(service.pid(), images);
  BOOST_TEST(!dump.result.ok(), "dump of a live bus connection must fail");
  const std::string log = read_file((images / "dump.log").string());
  BOOST_TEST(log.find(kNotFrozenLine) != std::string::npos, tail_of(images / "dump.log"));
  BOOST_TEST(service.running());
  BOOST_TEST(sample_uint64(admin.get(), service.well_known_name(), "Increment") == 1u);
  BOOST_TEST(list_frozen(admin.get()).empty());
}

BOOST_AUTO_TEST_CASE(restore_imports_the_record_when_the_bus_does_not_know_it)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 1u);
  const std::string id = freeze(admin.get(), name);

  // As after a reboot without the bus's state: the bus forgets the
  // connection once its process is gone; the images still hold it.
  CheckpointedService checkpointed(service, bus, admin, id, [&] {
    CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
    BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
    BOOST_REQUIRE(!name_has_owner(admin.get(), name));
  });
  const std::string restore_log = read_file((checkpointed.images / "restore.log").string());
  BOOST_TEST(restore_log.find("did not know checkpoint " + id) != std::string::npos,
             tail_of(checkpointed.images / "restore.log"));
  thaw(admin.get(), id);
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 2u);
  BOOST_TEST(name_owner(admin.get(), name) == service.unique_name());
}
