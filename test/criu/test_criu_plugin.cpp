// SPDX-License-Identifier: GPL-2.0-or-later
// The CRIU plugin (checkpoint/criu-plugin) with real CRIU, a real patched
// daemon and the sample services: `criu dump` of a service whose bus
// connection is frozen, `criu restore` back into that same connection.
// Needs root (CRIU does).  Shared helpers: criu_support.hpp.
#define BOOST_TEST_MODULE criu_plugin
#include <boost/test/data/test_case.hpp>
#include <boost/algorithm/string/join.hpp>
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>

#include <dbus/dbus.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
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
// The plugin's line when it loads its bus module (bus_module.cpp).
constexpr const char *kBusModuleLoaded = "loaded the bus module";

// The libraries a shared object names as NEEDED (readelf -d).
std::vector<std::string> needed_libraries(const std::string &path)
{
  CommandResult readelf = run_command({"readelf", "-d", path});
  BOOST_REQUIRE_MESSAGE(readelf.ok(), readelf.describe());
  std::vector<std::string> needed;
  const std::regex line(R"(\(NEEDED\)[^\[]*\[([^\]]+)\])");
  for (auto it = std::sregex_iterator(readelf.out.begin(), readelf.out.end(), line);
       it != std::sregex_iterator(); ++it)
    needed.push_back((*it)[1]);
  return needed;
}

// What the plugin logged during a restore.
std::string restore_log_of(const CheckpointedService &checkpointed)
{
  return read_file((checkpointed.images / "restore.log").string());
}

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

const auto kAllKinds = boost::unit_test::data::make(all_sample_kinds());
// Kinds that stop reading their socket while a handler runs (GDBus reads
// in a worker thread, so bytes never wait in its socket).
const auto kSingleThreadedKinds =
    boost::unit_test::data::make(std::vector<SampleKind>{SampleKind::SdBus, SampleKind::PythonDbus});

// The module at `path` exports `symbol`, and not the record library's.
void expect_exported(const std::string &path, const char *symbol)
{
  // RTLD_LAZY: criu_get_image_dir is CRIU's, bound only when called.
  void *module = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
  BOOST_REQUIRE_MESSAGE(module != nullptr, dlerror());
  BOOST_TEST(dlsym(module, symbol) != nullptr, symbol);
  BOOST_TEST(dlsym(module, "dcp_record_parse") == nullptr, "the record library stays inside");
  dlclose(module);
}

} // namespace

BOOST_AUTO_TEST_CASE(plugin_exports_only_its_descriptor)
{
  expect_exported(std::string(DCP_CRIU_PLUGIN_DIR) + "/dbus-checkpoint-criu.so", "CR_PLUGIN_DESC");
}

// What CRIU loads at start-up is small: the bus's client libraries are in
// the bus module, loaded only when needed (bus_module.hpp), and libstdc++
// is linked in.
BOOST_AUTO_TEST_CASE(plugin_links_no_client_library)
{
  const std::string plugin = std::string(DCP_CRIU_PLUGIN_DIR) + "/dbus-checkpoint-criu.so";
  const std::vector<std::string> needed = needed_libraries(plugin);
  BOOST_TEST_MESSAGE("the plugin needs: " << boost::algorithm::join(needed, " "));
  BOOST_TEST(!needed.empty());
  for (const std::string &library : needed)
    for (const char *heavy : {"systemd", "dbus", "protobuf", "libstdc++"})
      BOOST_TEST(library.find(heavy) == std::string::npos, "the plugin needs " << library);
  expect_exported(std::string(DCP_CRIU_PLUGIN_DIR) + "/dbus-checkpoint-criu.d/dbus-checkpoint-criu-bus.so",
                  "dcp_criu_bus_restore");
}

BOOST_AUTO_TEST_CASE(message_kind_reads_the_type_and_the_reply_serial)
{
  namespace raw_bus = dbus_checkpoint::raw_bus;
  Message call = new_bus_call("org.freedesktop.DBus.Checkpoint", "Reattach");
  dbus_message_set_serial(call.get(), 1);
  Message answer(dbus_message_new_method_return(call.get()));
  Message refusal(dbus_message_new_error(call.get(), DBUS_ERROR_INVALID_ARGS, "no such checkpoint"));
  Message signal(dbus_message_new_signal("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameAcquired"));
  BOOST_REQUIRE(answer && refusal && signal);
  dbus_message_set_destination(answer.get(), ":1.7");
  const std::map<std::string, std::pair<int, std::uint32_t>> expected = {
      {marshal(answer.get(), 9), {DBUS_MESSAGE_TYPE_METHOD_RETURN, 1}},
      {marshal(refusal.get(), 10), {DBUS_MESSAGE_TYPE_ERROR, 1}},
      {marshal(signal.get(), 11), {DBUS_MESSAGE_TYPE_SIGNAL, 0}},
      {marshal(call.get(), 12), {DBUS_MESSAGE_TYPE_METHOD_CALL, 0}},
  };
  for (const auto &[bytes, kind] : expected) {
    raw_bus::MessageKind read;
    const dbus_checkpoint::base::Status s = raw_bus::read_message_kind(bytes, read);
    BOOST_REQUIRE_MESSAGE(s, s.error().describe());
    BOOST_TEST(read.type == kind.first);
    BOOST_TEST(read.reply_serial == kind.second);
  }
  raw_bus::MessageKind unread;
  const std::string whole = marshal(answer.get(), 9);
  BOOST_TEST(!raw_bus::read_message_kind(whole.substr(0, whole.size() - 1), unread), "not whole");
  std::string bad_signature = whole;
  bad_signature[raw_bus::kFixedHeaderLength + 1] = 2;  // the first field's signature: 2 types
  BOOST_TEST(!raw_bus::read_message_kind(bad_signature, unread));
  std::string bad_type = whole;
  bad_type[raw_bus::kFixedHeaderLength + 2] = 'a';
  BOOST_TEST(!raw_bus::read_message_kind(bad_type, unread));
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
  const std::string restore_log = restore_log_of(checkpointed);
  BOOST_TEST(restore_log.find(" reattached to the bus at ") != std::string::npos, restore_log);
  BOOST_TEST(restore_log.find(kBusModuleLoaded) == std::string::npos,
             "the prepared Reattach needs no bus module: " << restore_log);
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

namespace {

// An sd-bus sample service checkpointed, `while_dumped(id, images, admin)`
// run between dump and restore, `check(restore_log, id)` after the restore;
// then thawed, its counter and unique name must continue.
void restore_sd_bus_service(
    const std::function<void(const std::string &, const fs::path &, SdBus &)> &while_dumped,
    const std::function<void(const std::string &, const std::string &)> &check)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 1u);
  const std::string id = freeze(admin.get(), name);
  const fs::path images = bus.dir() / ("images-" + to_string(service.kind()));
  CheckpointedService checkpointed(service, bus, admin, id, [&] { while_dumped(id, images, admin); });
  check(restore_log_of(checkpointed), id);
  thaw(admin.get(), id);
  BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 2u);
  BOOST_TEST(name_owner(admin.get(), name) == service.unique_name());
}

} // namespace

BOOST_AUTO_TEST_CASE(restore_imports_the_record_when_the_bus_does_not_know_it)
{
  // As after a reboot without the bus's state: the bus forgets the
  // connection once its process is gone; the images still hold it.
  restore_sd_bus_service(
      [](const std::string &id, const fs::path &, SdBus &admin) {
        CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
        BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
        BOOST_REQUIRE(list_frozen(admin.get()).empty());
      },
      [](const std::string &restore_log, const std::string &id) {
        BOOST_TEST(restore_log.find("did not take the prepared Reattach") != std::string::npos, restore_log);
        BOOST_TEST(restore_log.find(kBusModuleLoaded) != std::string::npos, restore_log);
        BOOST_TEST(restore_log.find("did not know checkpoint " + id) != std::string::npos, restore_log);
      });
}

// Images of a plugin that prepared no Reattach call (before it did): the
// bus module makes it from the record.
BOOST_AUTO_TEST_CASE(images_without_a_prepared_reattach_are_restored_by_the_bus_module)
{
  int removed = 0;
  restore_sd_bus_service(
      [&](const std::string &, const fs::path &images, SdBus &) {
        for (const fs::directory_entry &file : fs::directory_iterator(images))
          if (file.path().extension() == ".reattach")
            removed += fs::remove(file.path()) ? 1 : 0;
      },
      [](const std::string &restore_log, const std::string &) {
        BOOST_TEST(restore_log.find(kBusModuleLoaded) != std::string::npos, restore_log);
      });
  BOOST_TEST(removed == 1, "the dump prepared one Reattach call");
}
