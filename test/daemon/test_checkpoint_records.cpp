// SPDX-License-Identifier: GPL-2.0-or-later
// Records of frozen connections outlive the bus (bus-patches
// adopt-authenticated-connection, restore-frozen-connections):
// a daemon killed with SIGKILL and started again with the same checkpoint
// directory gives every frozen connection back, detached, under the same
// unique name and names; Import adopts a record from bytes and refuses a
// bad one with a clear error, changing nothing.
#define BOOST_TEST_MODULE checkpoint_records
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include <dbus-checkpoint/bus-abi.h>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "frozen_connection.pb.h"
#include "private_bus.hpp"
#include "process.hpp"
#include "raw_bus_socket.hpp"
#include "sample_service.hpp"
#include "scoped_environment.hpp"

using namespace dcp::test;
using namespace std::chrono_literals;
namespace v1 = dbus_checkpoint::v1;

namespace {

constexpr const char *kImportedName = "org.dbuscheckpoint.Imported";
constexpr const char *kImportedId = "0123456789abcdef0123456789abcdef";
constexpr const char *kImportedUnique = ":1.4242";

CallResult import_bytes(sd_bus *bus, const std::string &bytes)
{
  return call(bus, checkpoint_method("Import"), [&](sd_bus_message *m) {
    return sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size());
  });
}

// A queued signal in wire format: Poke, little endian, NO_REPLY_EXPECTED,
// serial 7, no body; header fields PATH, INTERFACE, MEMBER (69 bytes).
std::string queued_signal_bytes()
{
  static const unsigned char kPoke[] = {
      'l', 4, 1, 1, 0, 0, 0, 0, 7, 0, 0, 0, 69, 0, 0, 0,
      1, 1, 'o', 0, 1, 0, 0, 0, '/', 0, 0, 0, 0, 0, 0, 0,
      2, 1, 's', 0, 26, 0, 0, 0, 'o', 'r', 'g', '.', 'd', 'b', 'u', 's', 'c', 'h', 'e', 'c',
      'k', 'p', 'o', 'i', 'n', 't', '.', 'S', 'a', 'm', 'p', 'l', 'e', '1', 0, 0, 0, 0, 0, 0,
      3, 1, 's', 0, 4, 0, 0, 0, 'P', 'o', 'k', 'e', 0, 0, 0, 0};
  return std::string(reinterpret_cast<const char *>(kPoke), sizeof kPoke);
}

v1::FrozenConnection valid_record()
{
  v1::FrozenConnection r;
  r.set_format_version(1);
  r.set_checkpoint_id(kImportedId);
  r.set_unique_name(kImportedUnique);
  v1::OwnedName *name = r.add_names();
  name->set_name(kImportedName);
  r.add_match_rules("type='signal',interface='org.dbuscheckpoint.Sample1',member='Poke'");
  r.mutable_credentials()->set_uid(0);
  r.set_frozen_since_usec(1'700'000'000'000'000);
  return r;
}

std::string serialized(const v1::FrozenConnection &r)
{
  std::string bytes;
  BOOST_REQUIRE(r.SerializeToString(&bytes));
  return bytes;
}

struct Fixture {
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
};

struct CrashedCheckpoint {
  std::string id;
  std::string unique_name;
};

// The sample service answers once and is frozen (`while_frozen` then runs
// with the admin connection and the id), then the bus is killed as a crash
// or a power cut would: the record on disk is all that is left of it.
CrashedCheckpoint freeze_sample_then_crash(
    PrivateSystemBus &bus, const std::function<void(sd_bus *, const std::string &)> &while_frozen = {})
{
  SdBus admin = open_system_bus();
  SampleService service(SampleKind::SdBus, bus);
  CrashedCheckpoint crashed{"", service.unique_name()};
  BOOST_TEST(sample_uint64(admin.get(), kSampleDefaultName, "Increment") == 1u);
  crashed.id = freeze(admin.get(), kSampleDefaultName);
  if (while_frozen)
    while_frozen(admin.get(), crashed.id);
  bus.kill_hard();
  return crashed;
}

} // namespace

BOOST_AUTO_TEST_CASE(frozen_connections_survive_a_daemon_crash_and_restart)
{
  PrivateSystemBus bus;
  const CrashedCheckpoint crashed = freeze_sample_then_crash(bus);
  const std::string &id = crashed.id;
  const std::string &unique = crashed.unique_name;
  BOOST_REQUIRE(std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));

  bus.start();
  SdBus admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == id);
  BOOST_TEST(frozen[0].unique_name == unique);
  BOOST_TEST(frozen[0].names == std::vector<std::string>{kSampleDefaultName});
  BOOST_TEST(!frozen[0].attached);
  BOOST_TEST(name_has_owner(admin.get(), kSampleDefaultName));
  BOOST_TEST(name_has_owner(admin.get(), unique));

  CallResult r = call(admin.get(), sample_method(kSampleDefaultName, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, r.describe());

  // Its unique name is never handed to a new client.
  std::vector<SdBus> clients;
  for (int i = 0; i < 8; i++) {
    clients.push_back(open_system_bus());
    const char *name = nullptr;
    BOOST_REQUIRE_GE(sd_bus_get_unique_name(clients.back().get(), &name), 0);
    BOOST_TEST(name != unique);
  }

  // Its match rules came back: a Poke signal is queued for it, and the
  // queue is in the record, so it survives another crash.
  BOOST_REQUIRE_GE(sd_bus_emit_signal(admin.get(), "/", kSampleInterface, "Poke", ""), 0);
  BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  BOOST_TEST(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 1u; }, 5s));
  std::this_thread::sleep_for(300ms);  // past the record's 100 ms rewrite delay
  clients.clear();
  admin.reset();
  bus.kill_hard();
  bus.start();
  admin = open_system_bus();
  frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].queued_messages == 1u);

  CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
  BOOST_TEST(wait_until([&] { return !name_has_owner(admin.get(), kSampleDefaultName); }, 5s));
  BOOST_TEST(!std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));
}

// Messages queued for a frozen connection that is still attached are part
// of its record too: a crash of the bus does not lose them.
BOOST_AUTO_TEST_CASE(queue_of_an_attached_frozen_connection_survives_a_crash)
{
  PrivateSystemBus bus;
  std::string id;
  {
    SdBus admin = open_system_bus();
    SampleService service(SampleKind::SdBus, bus);
    id = freeze(admin.get(), kSampleDefaultName);
    for (int i = 0; i < 3; i++)
      BOOST_REQUIRE_GE(sd_bus_emit_signal(admin.get(), "/", kSampleInterface, "Poke", ""), 0);
    BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
    BOOST_REQUIRE(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 3u; }, 5s));
    BOOST_REQUIRE(list_frozen(admin.get()).at(0).attached);
    std::this_thread::sleep_for(300ms);  // past the record's 100 ms rewrite delay
    bus.kill_hard();
  }
  bus.start();
  SdBus admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == id);
  BOOST_TEST(frozen[0].queued_messages == 3u);
}

// A record whose queue changed is rewritten only after a delay (100 ms +
// 1 ms per 16 KiB queued).  A bus stopped within it (a restart, a
// shutdown) wrote nothing more, so what was queued since the last write
// was lost.  Now the shutdown hands those rewrites to the state writer,
// which writes them before the bus exits.
BOOST_AUTO_TEST_CASE(messages_queued_just_before_a_restart_are_in_the_record)
{
  constexpr unsigned kQueued = 4;  // 4 MiB: the rewrite waits 356 ms
  PrivateSystemBus bus;
  std::string id;
  {
    SdBus admin = open_system_bus();
    SampleService service(SampleKind::SdBus, bus);
    id = freeze(admin.get(), kSampleDefaultName);
    const auto queued = std::chrono::steady_clock::now();
    send_big_no_reply_calls(admin.get(), kSampleDefaultName, kQueued, 1024 * 1024);
    BOOST_REQUIRE(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == kQueued; },
                             5s));
    bus.stop();  // SIGTERM: a clean stop, as systemctl restart dbus does
    const auto stopped_after = std::chrono::steady_clock::now() - queued;
    BOOST_TEST_MESSAGE("stopped "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(stopped_after).count()
                       << " ms after the first queued message");
    BOOST_WARN_MESSAGE(stopped_after < 356ms, "stopped after the rewrite's delay: this run proves "
                                              "nothing about the shutdown's write");
  }
  bus.start();
  SdBus admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == id);
  BOOST_TEST(frozen[0].queued_messages == kQueued, "what was queued before the stop");
}

BOOST_AUTO_TEST_CASE(a_corrupt_record_does_not_stop_the_daemon)
{
  PrivateSystemBus bus;
  {
    SdBus admin = open_system_bus();
    CallResult r = import_bytes(admin.get(), serialized(valid_record()));
    BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  }
  bus.kill_hard();
  std::ofstream(bus.checkpoint_dir() / "ffffffffffffffffffffffffffffffff.record") << "garbage";
  bus.start();
  SdBus admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == kImportedId);
  BOOST_TEST(bus.log().find("Ignoring checkpoint record") != std::string::npos, bus.log());
}

BOOST_FIXTURE_TEST_CASE(import_adopts_a_record_and_export_gives_it_back, Fixture)
{
  v1::FrozenConnection record = valid_record();
  *record.add_queued()->mutable_marshalled() = queued_signal_bytes();
  CallResult imported = import_bytes(admin.get(), serialized(record));
  BOOST_REQUIRE_MESSAGE(imported.ok(), imported.describe());
  BOOST_TEST(read_string(imported.reply.get()) == kImportedId);

  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].unique_name == kImportedUnique);
  BOOST_TEST(frozen[0].names == std::vector<std::string>{kImportedName});
  BOOST_TEST(!frozen[0].attached);
  BOOST_TEST(frozen[0].queued_messages == 1u);
  CallResult r = call(admin.get(), sample_method(kImportedName, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, r.describe());
  BOOST_TEST(std::filesystem::exists(bus.checkpoint_dir() / (std::string(kImportedId) + ".record")));

  v1::FrozenConnection exported;
  BOOST_REQUIRE(exported.ParseFromString(export_bytes(admin.get(), kImportedId)));
  BOOST_TEST(exported.unique_name() == kImportedUnique);
  BOOST_REQUIRE_EQUAL(exported.names_size(), 1);
  BOOST_TEST(exported.names(0).name() == kImportedName);
  BOOST_REQUIRE_EQUAL(exported.match_rules_size(), 1);
  BOOST_TEST(exported.match_rules(0).find("member='Poke'") != std::string::npos);
  BOOST_TEST(exported.queued_size() == 1);
  BOOST_TEST(exported.credentials().uid() == 0u);

  CallResult again = import_bytes(admin.get(), serialized(record));
  BOOST_TEST(!again.ok());
  BOOST_TEST(again.error_message.find("already") != std::string::npos, again.describe());
}

BOOST_FIXTURE_TEST_CASE(export_discard_import_round_trip, Fixture)
{
  SampleService service(SampleKind::PythonDbus, bus);
  std::string id = freeze(admin.get(), kSampleDefaultName);
  std::string bytes = export_bytes(admin.get(), id);
  service.stop();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));
  CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
  BOOST_REQUIRE(wait_until([&] { return !name_has_owner(admin.get(), kSampleDefaultName); }, 5s));

  CallResult imported = import_bytes(admin.get(), bytes);
  BOOST_REQUIRE_MESSAGE(imported.ok(), imported.describe());
  BOOST_TEST(read_string(imported.reply.get()) == id);
  BOOST_TEST(name_has_owner(admin.get(), kSampleDefaultName));
  BOOST_TEST(name_has_owner(admin.get(), service.unique_name()));
  BOOST_TEST(list_frozen(admin.get()).at(0).unique_name == service.unique_name());
}

// Each bad record is refused with a message naming what is wrong, and
// leaves no frozen connection, name or record behind.
BOOST_FIXTURE_TEST_CASE(import_rejects_bad_records, Fixture)
{
  SampleService owner(SampleKind::SdBus, bus);
  const char *admin_unique = nullptr;
  BOOST_REQUIRE_GE(sd_bus_get_unique_name(admin.get(), &admin_unique), 0);

  using Mutation = std::function<void(v1::FrozenConnection &)>;
  struct BadRecord {
    const char *what;
    const char *expected_text;  // in the error message
    Mutation mutate;
    std::string bytes_override = {};
  };
  std::string valid = serialized(valid_record());
  std::vector<BadRecord> cases = {
      {"empty input", "format_version", {}, std::string()},
      {"garbage", "not a valid", {}, std::string("\xff\xff\xff\xff", 4)},
      {"truncated record", "", {}, valid.substr(0, valid.size() / 2)},
      {"format version 2", "format_version", [](auto &r) { r.set_format_version(2); }},
      {"upper-case id", "checkpoint_id",
       [](auto &r) { r.set_checkpoint_id("0123456789ABCDEF0123456789ABCDEF"); }},
      {"short id", "checkpoint_id", [](auto &r) { r.set_checkpoint_id("0123"); }},
      {"unique name without colon", "unique_name", [](auto &r) { r.set_unique_name("1.42"); }},
      {"name org.freedesktop.DBus", "org.freedesktop.DBus",
       [](auto &r) { r.mutable_names(0)->set_name("org.freedesktop.DBus"); }},
      {"a unique name as owned name", "names",
       [](auto &r) { r.mutable_names(0)->set_name(":1.7"); }},
      {"name listed twice", "names", [](auto &r) { r.add_names()->set_name(kImportedName); }},
      {"invalid name", "names", [](auto &r) { r.mutable_names(0)->set_name("1abc.def"); }},
      {"unknown name flags", "flags", [](auto &r) { r.mutable_names(0)->set_flags(0x10); }},
      {"empty match rule", "match_rules", [](auto &r) { r.set_match_rules(0, ""); }},
      {"unparsable match rule", "", [](auto &r) { r.set_match_rules(0, "type='nonsense'"); }},
      {"reply serial 0", "serial",
       [](auto &r) {
         auto *p = r.add_replies_owed_by_connection();
         p->set_peer(":1.9");
         p->set_serial(0);
       }},
      {"reply peer not unique", "peer",
       [](auto &r) {
         auto *p = r.add_replies_owed_to_connection();
         p->set_peer("org.example.Peer");
         p->set_serial(3);
       }},
      {"no credentials", "credentials", [](auto &r) { r.clear_credentials(); }},
      {"security label with NUL", "security_label",
       [](auto &r) { r.mutable_credentials()->set_security_label(std::string("a\0b", 3)); }},
      {"queued message too short", "queued",
       [](auto &r) { r.add_queued()->set_marshalled("l\x04\x01\x01"); }},
      {"queued message of type 9", "queued",
       [](auto &r) {
         std::string m = queued_signal_bytes();
         m[1] = 9;
         r.add_queued()->set_marshalled(m);
       }},
      {"negative frozen_since", "frozen_since", [](auto &r) { r.set_frozen_since_usec(-5); }},
      {"name owned by a running service", "owned by",
       [](auto &r) { r.mutable_names(0)->set_name(kSampleDefaultName); }},
      {"unique name in use", "in use", [&](auto &r) { r.set_unique_name(admin_unique); }},
      {"owner not allowed to own the name", "",
       [](auto &r) { r.mutable_credentials()->set_uid(65534); }},
  };

  for (const BadRecord &bad : cases) {
    BOOST_TEST_CONTEXT(bad.what)
    {
      std::string bytes = bad.bytes_override;
      if (bad.mutate) {
        v1::FrozenConnection record = valid_record();
        bad.mutate(record);
        bytes = serialized(record);
      }
      CallResult r = import_bytes(admin.get(), bytes);
      BOOST_TEST_MESSAGE(bad.what << ": " << r.error_name << ": " << r.error_message);
      BOOST_TEST(!r.ok());
      BOOST_TEST(!r.error_message.empty());
      BOOST_TEST(r.error_message.find(bad.expected_text) != std::string::npos, r.error_message);
      BOOST_TEST(list_frozen(admin.get()).empty());
      BOOST_TEST(wait_until([&] { return !name_has_owner(admin.get(), kImportedName); }, 5s));
      BOOST_TEST(wait_until([&] { return !name_has_owner(admin.get(), kImportedUnique); }, 5s));
      BOOST_TEST(!std::filesystem::exists(bus.checkpoint_dir() / (std::string(kImportedId) + ".record")));
    }
  }
  BOOST_TEST(cases.size() >= 20u);
  BOOST_TEST(sample_uint64(admin.get(), kSampleDefaultName, "Increment") == 1u,
             "the running service kept its name");
}

// Issue 12, finding 7: Import and start-up adopted records past the bus's
// own limits (65,536 match rules where the config allows 512, any number
// of connections per user).  Now the config's limits apply, as for Hello,
// AddMatch and RequestName.
BOOST_AUTO_TEST_CASE(import_applies_the_bus_limits_to_a_record)
{
  PrivateSystemBus::Options options;
  options.extra_config = R"(<limit name="max_match_rules_per_connection">4</limit>
                            <limit name="max_names_per_connection">2</limit>)";
  PrivateSystemBus bus(options);
  SdBus admin = open_system_bus();
  const std::string limits_exceeded = "org.freedesktop.DBus.Error.LimitsExceeded";

  v1::FrozenConnection rules = valid_record();
  for (int i = 0; i < 4; i++)
    rules.add_match_rules("type='signal',member='M" + std::to_string(i) + "'");
  CallResult r = import_bytes(admin.get(), serialized(rules));
  BOOST_TEST(r.error_name == limits_exceeded, r.describe());
  BOOST_TEST(r.error_message.find("max_match_rules_per_connection=4") != std::string::npos,
             r.error_message);

  v1::FrozenConnection names = valid_record();
  names.add_names()->set_name("org.dbuscheckpoint.Imported2");
  names.add_names()->set_name("org.dbuscheckpoint.Imported3");
  r = import_bytes(admin.get(), serialized(names));
  BOOST_TEST(r.error_name == limits_exceeded, r.describe());
  BOOST_TEST(list_frozen(admin.get()).empty(), "nothing adopted");
  BOOST_TEST(import_bytes(admin.get(), serialized(valid_record())).ok(), "within the limits");
}

BOOST_AUTO_TEST_CASE(import_counts_against_connections_per_user)
{
  PrivateSystemBus::Options options;
  options.extra_config = R"(<limit name="max_connections_per_user">1</limit>)";
  PrivateSystemBus bus(options);
  SdBus admin = open_system_bus();  // root's one connection
  CallResult r = import_bytes(admin.get(), serialized(valid_record()));  // uid 0 too
  BOOST_TEST(r.error_name == "org.freedesktop.DBus.Error.LimitsExceeded", r.describe());
  BOOST_TEST(list_frozen(admin.get()).empty());
}

namespace {

constexpr const char *kAnotherBoot = "00000000-0000-4000-8000-000000000000";

// What a reboot does to a record on disk: the boot it was written in is
// over.  Everything else in the file stays as the bus wrote it.
void move_record_to_another_boot(const std::filesystem::path &file)
{
  v1::FrozenConnection record;
  BOOST_REQUIRE(record.ParseFromString(read_file(file.string())));
  BOOST_REQUIRE_EQUAL(record.boot_id().size(), 36u);  // the bus wrote this boot's id
  record.set_boot_id(kAnotherBoot);
  std::ofstream(file, std::ios::trunc) << serialized(record);
}

// The security label the bus reports for name (GetConnectionCredentials'
// LinuxSecurityLabel, without its trailing NUL); empty if it reports none.
std::string reported_label(sd_bus *bus, const char *name)
{
  CallResult r = call(bus, {"org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            "GetConnectionCredentials"},
                      "s", name);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  sd_bus_message *m = r.reply.get();
  std::string label;
  BOOST_REQUIRE(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
  while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
    const char *key = nullptr;
    BOOST_REQUIRE(sd_bus_message_read(m, "s", &key) > 0);
    if (std::string(key) == "LinuxSecurityLabel") {
      const void *bytes = nullptr;
      size_t n = 0;
      BOOST_REQUIRE(sd_bus_message_enter_container(m, 'v', "ay") > 0);
      BOOST_REQUIRE(sd_bus_message_read_array(m, 'y', &bytes, &n) >= 0);
      label.assign(static_cast<const char *>(bytes), n);
      BOOST_REQUIRE(sd_bus_message_exit_container(m) >= 0);
    } else {
      BOOST_REQUIRE(sd_bus_message_skip(m, "v") >= 0);
    }
    BOOST_REQUIRE(sd_bus_message_exit_container(m) >= 0);
  }
  while (!label.empty() && label.back() == '\0')
    label.pop_back();
  return label;
}

void plant_record(PrivateSystemBus &bus, const v1::FrozenConnection &record)
{
  namespace fs = std::filesystem;
  fs::create_directories(bus.checkpoint_dir());
  fs::permissions(bus.checkpoint_dir(), fs::perms::owner_all, fs::perm_options::replace);
  std::ofstream(bus.checkpoint_dir() / (record.checkpoint_id() + ".record")) << serialized(record);
}

} // namespace

// Issue 12, finding 2: an adopted connection's socket is the bus's own
// socketpair, so a bus mediating with an LSM mediated it as the bus itself
// while it reported the record's label: a confined service restored left
// its confinement on the bus.  Now a bus that mediates adopts only a record
// frozen with its own label and refuses the others with AccessDenied,
// naming both, at Import and at start-up.  This machine has no SELinux or
// AppArmor: the test build's DCP_TEST_BUS_LSM_LABEL makes the bus mediate
// as if its own label were "unconfined".
BOOST_AUTO_TEST_CASE(a_mediating_bus_adopts_only_records_frozen_with_its_label)
{
  namespace fs = std::filesystem;
  ScopedEnvironment apparmor("DCP_TEST_BUS_LSM_LABEL", "unconfined");
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();

  v1::FrozenConnection confined = valid_record();
  confined.mutable_credentials()->set_security_label("/usr/sbin/confined-service (enforce)");
  CallResult r = import_bytes(admin.get(), serialized(confined));
  BOOST_TEST(r.error_name == "org.freedesktop.DBus.Error.AccessDenied", r.describe());
  BOOST_TEST(r.error_message.find("\"unconfined\"") != std::string::npos, r.error_message);
  BOOST_TEST(r.error_message.find("\"/usr/sbin/confined-service (enforce)\"") != std::string::npos,
             r.error_message);
  BOOST_TEST(list_frozen(admin.get()).empty(), "nothing adopted");
  BOOST_TEST(!name_has_owner(admin.get(), kImportedName));
  BOOST_TEST(!name_has_owner(admin.get(), kImportedUnique));

  v1::FrozenConnection unlabelled = valid_record();  // frozen where no LSM labels sockets
  r = import_bytes(admin.get(), serialized(unlabelled));
  BOOST_TEST(r.error_name == "org.freedesktop.DBus.Error.AccessDenied", r.describe());
  BOOST_TEST(r.error_message.find("not as the label it was frozen with, none") != std::string::npos,
             r.error_message);

  v1::FrozenConnection unconfined = valid_record();
  unconfined.mutable_credentials()->set_security_label("unconfined");
  r = import_bytes(admin.get(), serialized(unconfined));
  BOOST_REQUIRE_MESSAGE(r.ok(), "the bus's own label: " << r.describe());
  BOOST_TEST(list_frozen(admin.get()).size() == 1u);
  BOOST_TEST(reported_label(admin.get(), kImportedUnique) == "unconfined",
             "mediated and reported as the same label");

  // At start-up too: a planted record of another label stays where it is,
  // logged, and holds no name.
  admin.reset();
  bus.kill_hard();
  confined.set_checkpoint_id("fedcba9876543210fedcba9876543210");
  confined.set_unique_name(":1.4343");
  confined.mutable_names(0)->set_name("org.dbuscheckpoint.Confined");
  plant_record(bus, confined);
  bus.start();
  admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == kImportedId, "the unconfined record is restored, not the other");
  BOOST_TEST(!name_has_owner(admin.get(), "org.dbuscheckpoint.Confined"));
  BOOST_TEST(fs::exists(bus.checkpoint_dir() / (confined.checkpoint_id() + ".record")),
             "left in place");
  BOOST_TEST(bus.log().find("would mediate the restored connection") != std::string::npos,
             bus.log());
}

// Without an LSM (this machine, and a bus built without one) nothing is
// mediated: a record of any label is adopted and reports its label.
BOOST_AUTO_TEST_CASE(a_bus_that_does_not_mediate_adopts_any_label)
{
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  v1::FrozenConnection confined = valid_record();
  confined.mutable_credentials()->set_security_label("/usr/sbin/confined-service (enforce)");
  CallResult r = import_bytes(admin.get(), serialized(confined));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  BOOST_TEST(reported_label(admin.get(), kImportedUnique) == "/usr/sbin/confined-service (enforce)");
}

// Issue 12, finding 8: records never expired, so a stale record held its
// service's names after every reboot.  Now a record carries the boot id of
// the bus that wrote it, and one of another boot is set aside at start-up
// (renamed <id>.other-boot, a log line) unless it was asked to be kept;
// Import still takes it.
BOOST_AUTO_TEST_CASE(records_of_another_boot_are_set_aside_at_start_up)
{
  namespace fs = std::filesystem;
  PrivateSystemBus bus;
  const std::string id = freeze_sample_then_crash(bus).id;
  const fs::path file = bus.checkpoint_dir() / (id + ".record");
  move_record_to_another_boot(file);
  v1::FrozenConnection planted = valid_record();
  planted.set_boot_id(kAnotherBoot);
  plant_record(bus, planted);

  bus.start();
  SdBus admin = open_system_bus();
  BOOST_TEST(list_frozen(admin.get()).empty(), "neither is restored");
  BOOST_TEST(!name_has_owner(admin.get(), kSampleDefaultName), "its name is free again");
  BOOST_TEST(!name_has_owner(admin.get(), kImportedName));
  BOOST_TEST(!fs::exists(file));
  BOOST_TEST(fs::exists(bus.checkpoint_dir() / (id + ".other-boot")));
  BOOST_TEST(bus.log().find("frozen in another boot") != std::string::npos, bus.log());

  // Import takes it (the plugin's restore does, when the bus does not know
  // the checkpoint); from then on it is this boot's.
  BOOST_REQUIRE(import_bytes(admin.get(), serialized(planted)).ok());
  admin.reset();
  bus.kill_hard();
  bus.start();
  admin = open_system_bus();
  BOOST_TEST(list_frozen(admin.get()).size() == 1u, "an imported record survives a restart");
}

// The other half of finding 8: a checkpoint whose restore comes after a
// reboot (systemd's start of the unit is the restore) asks the bus to keep
// it, with KeepAcrossReboot (dbus-send can write it); its record is then
// restored at start-up in the next boot, and Reattach continues it.
BOOST_AUTO_TEST_CASE(records_kept_across_reboot_are_restored_in_another_boot)
{
  namespace fs = std::filesystem;
  PrivateSystemBus bus;
  std::string secret;
  const CrashedCheckpoint crashed = freeze_sample_then_crash(bus, [&](sd_bus *admin,
                                                                       const std::string &id) {
    CommandResult kept = run_command({DCP_DBUS_SEND, "--system", "--print-reply",
                                      "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus.Checkpoint.KeepAcrossReboot",
                                      "string:" + id, "boolean:true"});
    BOOST_REQUIRE_MESSAGE(kept.ok(), kept.describe());
    v1::FrozenConnection exported;
    BOOST_REQUIRE(exported.ParseFromString(export_bytes(admin, id)));
    BOOST_TEST(exported.keep_across_reboot());
    secret = exported.reattach_secret();
    CallResult unknown =
        call(admin, checkpoint_method("KeepAcrossReboot"), "sb", kImportedId, 1);
    BOOST_TEST(unknown.error_name == "org.freedesktop.DBus.Error.InvalidArgs", unknown.describe());
  });
  const std::string &id = crashed.id;
  const std::string &unique = crashed.unique_name;
  const fs::path file = bus.checkpoint_dir() / (id + ".record");
  move_record_to_another_boot(file);

  bus.start();
  SdBus admin = open_system_bus();
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == id);
  BOOST_TEST(frozen[0].unique_name == unique);
  BOOST_TEST(!frozen[0].attached);
  CallResult r = call(admin.get(), sample_method(kSampleDefaultName, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, "held during the boot: " << r.describe());
  BOOST_TEST(fs::exists(file));

  // Restorable: a new socket continues it with the record's secret.
  RawBusSocket restored(bus.socket_path().string());
  restored.authenticate();
  Message reattach = dbus_checkpoint::raw_bus::new_reattach_call(id, "", secret);
  Message reply = restored.call(reattach.get());
  BOOST_REQUIRE(dbus_message_get_type(reply.get()) == DBUS_MESSAGE_TYPE_METHOD_RETURN);
  thaw(admin.get(), id);
  BOOST_TEST(list_frozen(admin.get()).empty());
  BOOST_TEST(!fs::exists(file), "a thawed checkpoint leaves no record");

  // Kept until told otherwise: KeepAcrossReboot(id, false) undoes it.
  const std::string id2 = freeze(admin.get(), kSampleDefaultName);
  CallResult keep = call(admin.get(), checkpoint_method("KeepAcrossReboot"), "sb", id2.c_str(), 1);
  BOOST_REQUIRE_MESSAGE(keep.ok(), keep.describe());
  CallResult undo = call(admin.get(), checkpoint_method("KeepAcrossReboot"), "sb", id2.c_str(), 0);
  BOOST_REQUIRE_MESSAGE(undo.ok(), undo.describe());
  v1::FrozenConnection exported;
  BOOST_REQUIRE(exported.ParseFromString(export_bytes(admin.get(), id2)));
  BOOST_TEST(!exported.keep_across_reboot());
}
