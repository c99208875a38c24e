// SPDX-License-Identifier: GPL-2.0-or-later
// org.freedesktop.DBus.Checkpoint on the patched daemon, driven by real
// clients against real services (sd-bus, libdbus via python3-dbus, GDBus):
// Freeze / Thaw / Discard / Export / ListFrozen, the NameFrozen error and
// signals, queued messages, paused timeouts, detached connections, policy.
#define BOOST_TEST_MODULE checkpoint_interface
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <dbus-checkpoint/bus-abi.h>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Fixture {
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
};

} // namespace

BOOST_FIXTURE_TEST_CASE(checkpoint_interface_is_introspectable, Fixture)
{
  CallResult r = call(admin.get(), bus_method("org.freedesktop.DBus.Introspectable", "Introspect"));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  std::string xml = read_string(r.reply.get());
  for (const char *needle :
       {"<interface name=\"org.freedesktop.DBus.Checkpoint\">", "<method name=\"Freeze\">",
        "<method name=\"Thaw\">", "<method name=\"Discard\">", "<method name=\"Export\">",
        "<method name=\"ListFrozen\">", "<signal name=\"NameFrozen\">",
        "<signal name=\"NameThawed\">", "type=\"a(ssasa{sv})\""})
    BOOST_TEST(xml.find(needle) != std::string::npos, "Introspect lacks " << needle);

  CallResult interfaces = call(admin.get(), bus_method("org.freedesktop.DBus.Properties", "Get"),
                               "ss", "org.freedesktop.DBus", "Interfaces");
  BOOST_REQUIRE_MESSAGE(interfaces.ok(), interfaces.describe());
  BOOST_REQUIRE_GE(sd_bus_message_enter_container(interfaces.reply.get(), 'v', "as"), 0);
  auto names = read_string_array(interfaces.reply.get());
  BOOST_TEST((std::find(names.begin(), names.end(), kCheckpointInterface) != names.end()));
}

BOOST_FIXTURE_TEST_CASE(freeze_and_thaw_each_client_library, Fixture)
{
  for (SampleKind kind : all_sample_kinds()) {
    BOOST_TEST_CONTEXT("service " << kind)
    {
      SampleService service(kind, bus);
      const std::string &name = service.well_known_name();
      BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 1u);

      std::string id = freeze(admin.get(), name);
      BOOST_TEST(is_checkpoint_id(id), id);
      BOOST_TEST(std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));

      // Every name of the connection answers NameFrozen at once.
      for (const std::string &destination : {name, service.unique_name()}) {
        auto start = Clock::now();
        CallResult r = call(admin.get(), sample_method(destination, "Increment"));
        auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
        BOOST_TEST_MESSAGE(kind << ": NameFrozen for " << destination << " after "
                                << latency.count() << " us");
        BOOST_TEST(r.error_name == kNameFrozen, r.describe());
        BOOST_TEST(r.error_message.find(destination) != std::string::npos, r.error_message);
        BOOST_TEST(r.error_message.find(id) != std::string::npos, r.error_message);
        BOOST_TEST(latency < 1s);
      }

      BOOST_TEST(freeze(admin.get(), service.unique_name()) == id, "Freeze is idempotent");

      auto frozen = list_frozen(admin.get());
      BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
      BOOST_TEST(frozen[0].id == id);
      BOOST_TEST(frozen[0].unique_name == service.unique_name());
      BOOST_TEST(frozen[0].names == std::vector<std::string>{name});
      BOOST_TEST(frozen[0].attached);
      BOOST_TEST(frozen[0].uid == 0u);

      thaw(admin.get(), id);
      BOOST_TEST(sample_uint64(admin.get(), name, "Increment") == 2u, "counter continues");
      BOOST_TEST(list_frozen(admin.get()).empty());
      BOOST_TEST(!std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));

      CallResult again = call(admin.get(), checkpoint_method("Thaw"), "s", id.c_str());
      BOOST_TEST(again.error_name == "org.freedesktop.DBus.Error.InvalidArgs", again.describe());
    }
  }
}

BOOST_FIXTURE_TEST_CASE(peers_see_name_frozen_and_name_thawed, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  SdBus peer = open_system_bus();
  SignalCollector all(peer.get(), "type='signal',sender='org.freedesktop.DBus',"
                                  "interface='org.freedesktop.DBus.Checkpoint'");
  SignalCollector by_arg0(peer.get(), "type='signal',sender='org.freedesktop.DBus',"
                                      "interface='org.freedesktop.DBus.Checkpoint',"
                                      "member='NameFrozen',arg0='org.dbuscheckpoint.Sample'");
  const std::string &unique = service.unique_name();

  std::string id = freeze(admin.get(), service.well_known_name());
  BOOST_REQUIRE(all.wait_for(2, 5s));
  auto frozen = signal_args(all.signals(), "NameFrozen");
  std::sort(frozen.begin(), frozen.end());
  BOOST_TEST(frozen == (std::vector<std::string>{unique + " " + unique,
                                                 "org.dbuscheckpoint.Sample " + unique}));
  BOOST_REQUIRE(by_arg0.wait_for(1, 5s));

  thaw(admin.get(), id);
  BOOST_REQUIRE(all.wait_for(4, 5s));
  auto thawed = signal_args(all.signals(), "NameThawed");
  std::sort(thawed.begin(), thawed.end());
  BOOST_TEST(thawed == (std::vector<std::string>{unique + " " + unique,
                                                 "org.dbuscheckpoint.Sample " + unique}));
  BOOST_TEST(by_arg0.signals().size() == 1u, "arg0 match sees only the well-known name");
}

namespace {

// A peer that takes Echo calls and answers them only when told to, so a
// reply can be made to reach a service while it is frozen.
class SlowEchoPeer {
 public:
  explicit SlowEchoPeer(const char *name) : bus_(open_system_bus())
  {
    sd_bus_slot *slot = nullptr;
    BOOST_REQUIRE_GE(sd_bus_add_object_vtable(bus_.get(), &slot, kSampleObjectPath,
                                              kSampleInterface, kVtable, this), 0);
    slot_.reset(slot);
    BOOST_REQUIRE_GE(sd_bus_request_name(bus_.get(), name, 0), 0);
  }
  bool wait_for_call(std::chrono::milliseconds timeout)
  {
    return process_until(bus_.get(), [&] { return pending_ != nullptr; }, timeout);
  }
  void reply()
  {
    const char *text = nullptr;
    BOOST_REQUIRE_GE(sd_bus_message_read(pending_.get(), "s", &text), 0);
    BOOST_REQUIRE_GE(sd_bus_reply_method_return(pending_.get(), "s", text), 0);
    BOOST_REQUIRE_GE(sd_bus_flush(bus_.get()), 0);
  }

 private:
  static int on_echo(sd_bus_message *m, void *userdata, sd_bus_error *)
  {
    static_cast<SlowEchoPeer *>(userdata)->pending_.reset(sd_bus_message_ref(m));
    return 1;  // answered later
  }
  static constexpr sd_bus_vtable kVtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_METHOD("Echo", "s", "s", on_echo, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_VTABLE_END};
  SdBus bus_;
  SdBusSlot slot_;
  SdBusMessage pending_;
};

} // namespace

BOOST_FIXTURE_TEST_CASE(reply_owed_to_frozen_service_arrives_once_after_thaw, Fixture)
{
  for (SampleKind kind : all_sample_kinds()) {
    BOOST_TEST_CONTEXT("service " << kind)
    {
      SampleService service(kind, bus);
      SlowEchoPeer peer("org.dbuscheckpoint.SlowPeer");
      CallResult asked = call(admin.get(), sample_method(service.well_known_name(), "CallPeer"),
                              "s", "org.dbuscheckpoint.SlowPeer");
      BOOST_REQUIRE_MESSAGE(asked.ok(), asked.describe());
      BOOST_REQUIRE(peer.wait_for_call(5s));

      std::string id = freeze(admin.get(), service.well_known_name());
      peer.reply();
      std::this_thread::sleep_for(200ms);
      auto frozen = list_frozen(admin.get());
      BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
      BOOST_TEST(frozen[0].queued_messages >= 1u, "the reply waits in the bus");

      thaw(admin.get(), id);
      std::vector<std::string> replies;
      bool one = wait_until([&] {
        CallResult r = call(admin.get(), sample_method(service.well_known_name(), "GetPeerReplies"));
        BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
        replies = read_string_array(r.reply.get());
        return !replies.empty();
      }, 5s);
      BOOST_REQUIRE(one);
      std::this_thread::sleep_for(200ms);
      CallResult r = call(admin.get(), sample_method(service.well_known_name(), "GetPeerReplies"));
      replies = read_string_array(r.reply.get());
      BOOST_TEST(replies == std::vector<std::string>{"from org.dbuscheckpoint.Sample"},
                 "exactly once");
    }
  }
}

BOOST_FIXTURE_TEST_CASE(no_reply_messages_and_signals_are_delivered_after_thaw, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze(admin.get(), service.well_known_name());

  // A call flagged NO_REPLY_EXPECTED waits for the service, in the queue.
  CommandResult sent = run_command({"busctl", "--system", "--expect-reply=no", "call",
                                    "org.dbuscheckpoint.Sample", kSampleObjectPath,
                                    kSampleInterface, "Increment"});
  BOOST_REQUIRE_MESSAGE(sent.ok(), sent.describe());
  for (int i = 0; i < 3; i++)
    BOOST_REQUIRE_GE(sd_bus_emit_signal(admin.get(), "/", kSampleInterface, "Poke", ""), 0);
  BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  BOOST_TEST(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 4u; }, 5s));

  thaw(admin.get(), id);
  BOOST_TEST(sample_uint64(admin.get(), service.well_known_name(), "Get") == 1u);
  BOOST_TEST(sample_uint64(admin.get(), service.well_known_name(), "GetPokes") == 3u);
}

BOOST_FIXTURE_TEST_CASE(signal_queue_is_bounded_and_drops_oldest_signals, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze(admin.get(), service.well_known_name());
  constexpr unsigned kBound = 16384;  // BUS_FROZEN_MAX_QUEUED_MESSAGES
  constexpr unsigned kSent = kBound + 500;
  for (unsigned i = 0; i < kSent; i++) {
    BOOST_REQUIRE_GE(sd_bus_emit_signal(admin.get(), "/", kSampleInterface, "Poke", ""), 0);
    if (i % 1000 == 999)
      BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  }
  BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  FrozenEntry entry;
  BOOST_TEST(wait_until([&] {
    entry = list_frozen(admin.get()).at(0);
    return entry.queued_messages + entry.dropped_signals == kSent;
  }, 20s));
  BOOST_TEST(entry.queued_messages == kBound);
  BOOST_TEST(entry.dropped_signals == kSent - kBound);

  thaw(admin.get(), id);
  BOOST_TEST(wait_until([&] {
    return sample_uint64(admin.get(), service.well_known_name(), "GetPokes") == kBound;
  }, 20s));
}

BOOST_FIXTURE_TEST_CASE(two_hundred_callers_all_get_name_frozen, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze(admin.get(), service.well_known_name());

  constexpr int kCallers = 200;
  std::vector<SdBus> callers;
  std::vector<SdBusSlot> slots;
  std::map<int, std::string> errors;
  struct Pending {
    std::map<int, std::string> *errors;
    int index;
  };
  std::vector<Pending> pending(kCallers);
  for (int i = 0; i < kCallers; i++)
    callers.push_back(open_system_bus());

  auto start = Clock::now();
  for (int i = 0; i < kCallers; i++) {
    pending[i] = {&errors, i};
    sd_bus_slot *slot = nullptr;
    int r = sd_bus_call_method_async(
        callers[i].get(), &slot, service.well_known_name().c_str(), kSampleObjectPath,
        kSampleInterface, "Get",
        [](sd_bus_message *reply, void *userdata, sd_bus_error *) {
          auto *p = static_cast<Pending *>(userdata);
          const sd_bus_error *e = sd_bus_message_get_error(reply);
          (*p->errors)[p->index] = e ? e->name : "(method return)";
          return 0;
        },
        &pending[i], "");
    BOOST_REQUIRE_GE(r, 0);
    slots.emplace_back(slot);
  }
  auto deadline = Clock::now() + 10s;
  while (errors.size() < kCallers && Clock::now() < deadline)
    for (auto &c : callers)
      while (sd_bus_process(c.get(), nullptr) > 0) {
      }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  BOOST_TEST_MESSAGE(errors.size() << " of " << kCallers << " callers answered in "
                                   << elapsed.count() << " ms");
  BOOST_REQUIRE_EQUAL(errors.size(), static_cast<size_t>(kCallers));
  for (const auto &[index, name] : errors)
    BOOST_TEST(name == kNameFrozen, "caller " << index);
  thaw(admin.get(), id);
}

BOOST_FIXTURE_TEST_CASE(unprivileged_callers_are_refused, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze(admin.get(), service.well_known_name());
  thaw(admin.get(), id);

  auto as_nobody = [](std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", "--reuid=65534", "--regid=65534",
                                     "--clear-groups", "dbus-send", "--system", "--print-reply",
                                     "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  };
  for (const auto &args : std::vector<std::vector<std::string>>{
           {"org.freedesktop.DBus.Checkpoint.Freeze", "string:org.dbuscheckpoint.Sample"},
           {"org.freedesktop.DBus.Checkpoint.ListFrozen"},
           {"org.freedesktop.DBus.Checkpoint.Thaw", "string:" + id},
           {"org.freedesktop.DBus.Checkpoint.Discard", "string:" + id},
           {"org.freedesktop.DBus.Checkpoint.Export", "string:" + id},
           {"org.freedesktop.DBus.Checkpoint.Import", "array:byte:1,2,3"}}) {
    CommandResult r = as_nobody(args);
    BOOST_TEST(!r.ok(), args[0]);
    BOOST_TEST(r.err.find("org.freedesktop.DBus.Error.AccessDenied") != std::string::npos,
               args[0] << ": " << r.describe());
  }
  BOOST_TEST(list_frozen(admin.get()).empty(), "nothing changed");
  BOOST_TEST(sample_uint64(admin.get(), service.well_known_name(), "Get") == 0u);
}

BOOST_FIXTURE_TEST_CASE(administrators_use_dbus_send_busctl_and_gdbus, Fixture)
{
  SampleService service(SampleKind::PythonDbus, bus);
  CommandResult frozen = run_command(
      {"dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
       "/org/freedesktop/DBus", "org.freedesktop.DBus.Checkpoint.Freeze",
       "string:org.dbuscheckpoint.Sample"});
  BOOST_REQUIRE_MESSAGE(frozen.ok(), frozen.describe());
  auto quote = frozen.out.find("string \"");
  BOOST_REQUIRE(quote != std::string::npos);
  std::string id = frozen.out.substr(quote + 8, 32);
  BOOST_TEST(is_checkpoint_id(id), id);

  CommandResult listed = run_command({"busctl", "--system", "call", "org.freedesktop.DBus",
                                      "/org/freedesktop/DBus", kCheckpointInterface, "ListFrozen"});
  BOOST_REQUIRE_MESSAGE(listed.ok(), listed.describe());
  BOOST_TEST(listed.out.find(id) != std::string::npos, listed.out);
  BOOST_TEST(listed.out.find("org.dbuscheckpoint.Sample") != std::string::npos, listed.out);

  CommandResult refused = run_command({"busctl", "--system", "call", "org.dbuscheckpoint.Sample",
                                       kSampleObjectPath, kSampleInterface, "Get"});
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.err.find("frozen") != std::string::npos, refused.describe());

  CommandResult thawed = run_command({"gdbus", "call", "--system", "--dest",
                                      "org.freedesktop.DBus", "--object-path",
                                      "/org/freedesktop/DBus", "--method",
                                      "org.freedesktop.DBus.Checkpoint.Thaw", id});
  BOOST_REQUIRE_MESSAGE(thawed.ok(), thawed.describe());
  BOOST_TEST(sample_uint64(admin.get(), service.well_known_name(), "Increment") == 1u);
}

BOOST_FIXTURE_TEST_CASE(freeze_refuses_what_cannot_be_frozen, Fixture)
{
  auto freeze_error = [&](const std::string &name) {
    CallResult r = call(admin.get(), checkpoint_method("Freeze"), "s", name.c_str());
    BOOST_TEST(!r.ok(), "Freeze " << name << " should fail");
    return r.error_name;
  };
  BOOST_TEST(freeze_error("org.freedesktop.DBus") == "org.freedesktop.DBus.Error.InvalidArgs");
  BOOST_TEST(freeze_error("org.dbuscheckpoint.Nobody") ==
             "org.freedesktop.DBus.Error.NameHasNoOwner");
  BOOST_TEST(freeze_error("not a name") == "org.freedesktop.DBus.Error.InvalidArgs");
  const char *self = nullptr;
  BOOST_REQUIRE_GE(sd_bus_get_unique_name(admin.get(), &self), 0);
  BOOST_TEST(freeze_error(self) == "org.freedesktop.DBus.Error.InvalidArgs");

  // A monitor gives up every name, its unique name included (it logs its
  // own NameLost), so there is nothing by which to freeze it.
  auto monitor_log = bus.dir() / "monitor.log";
  ChildProcess monitor({"dbus-monitor", "--system"}, monitor_log.string());
  std::string monitor_name;
  BOOST_REQUIRE(wait_until([&] {
    std::string log = read_file(monitor_log.string());
    auto lost = log.find("member=NameLost");
    auto quote = log.find("string \"", lost == std::string::npos ? log.size() : lost);
    auto end = quote == std::string::npos ? quote : log.find('"', quote + 8);
    if (end == std::string::npos)
      return false;
    monitor_name = log.substr(quote + 8, end - quote - 8);
    return true;
  }, 5s));
  BOOST_TEST(freeze_error(monitor_name) == "org.freedesktop.DBus.Error.NameHasNoOwner",
             monitor_name);
  BOOST_TEST(list_frozen(admin.get()).empty());
}

BOOST_FIXTURE_TEST_CASE(frozen_connection_survives_its_socket_closing, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  const std::string unique = service.unique_name();
  SdBus watcher = open_system_bus();
  SignalCollector owner_changes(watcher.get(),
                                "type='signal',sender='org.freedesktop.DBus',"
                                "member='NameOwnerChanged',arg0='" + name + "'");

  std::string id = freeze(admin.get(), name);
  kill(service.pid(), SIGKILL);
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));

  BOOST_TEST(name_has_owner(admin.get(), name), "names stay owned");
  BOOST_TEST(name_has_owner(admin.get(), unique));
  CallResult r = call(admin.get(), sample_method(name, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, r.describe());
  BOOST_TEST(!owner_changes.wait_for(1, 300ms), "no NameOwnerChanged while detached");
  BOOST_TEST(std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));

  CallResult thaw_detached = call(admin.get(), checkpoint_method("Thaw"), "s", id.c_str());
  BOOST_TEST(thaw_detached.error_name == "org.freedesktop.DBus.Error.Failed",
             thaw_detached.describe());

  CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
  BOOST_REQUIRE(owner_changes.wait_for(1, 5s));
  BOOST_TEST(!name_has_owner(admin.get(), name), "Discard releases the names");
  BOOST_TEST(!name_has_owner(admin.get(), unique));
  BOOST_TEST(!std::filesystem::exists(bus.checkpoint_dir() / (id + ".record")));
  BOOST_TEST(list_frozen(admin.get()).empty());
}

BOOST_AUTO_TEST_CASE(calls_the_frozen_service_received_do_not_time_out)
{
  // A short bus reply timeout, so that a freeze outlasts it.
  PrivateSystemBus bus({.extra_config = "<limit name=\"reply_timeout\">1500</limit>"});
  SdBus admin = open_system_bus();
  SampleService service(SampleKind::SdBus, bus);
  SdBus caller = open_system_bus();

  std::string outcome;
  sd_bus_slot *raw_slot = nullptr;
  BOOST_REQUIRE_GE(sd_bus_call_method_async(
                       caller.get(), &raw_slot, service.well_known_name().c_str(),
                       kSampleObjectPath, kSampleInterface, "Busy",
                       [](sd_bus_message *reply, void *userdata, sd_bus_error *) {
                         const sd_bus_error *e = sd_bus_message_get_error(reply);
                         *static_cast<std::string *>(userdata) = e ? e->name : "return";
                         return 0;
                       },
                       &outcome, "u", 300u),
                   0);
  SdBusSlot slot(raw_slot);
  BOOST_REQUIRE_GE(sd_bus_flush(caller.get()), 0);
  std::this_thread::sleep_for(50ms);  // the service has the call and is busy

  std::string id = freeze(admin.get(), service.well_known_name());
  BOOST_TEST(!process_until(caller.get(), [&] { return !outcome.empty(); }, 2500ms),
             "no answer while frozen: " << outcome);
  thaw(admin.get(), id);
  BOOST_REQUIRE(process_until(caller.get(), [&] { return !outcome.empty(); }, 5s));
  BOOST_TEST(outcome == "return", "the real reply, not the bus's NoReply");
}

BOOST_FIXTURE_TEST_CASE(export_returns_the_record, Fixture)
{
  SampleService service(SampleKind::GDBus, bus);
  std::string id = freeze(admin.get(), service.well_known_name());
  CallResult r = call(admin.get(), checkpoint_method("Export"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
  const void *bytes = nullptr;
  size_t n_bytes = 0;
  BOOST_REQUIRE_GE(sd_bus_message_read_array(r.reply.get(), 'y', &bytes, &n_bytes), 0);

  DcpRecord *raw = nullptr;
  char *error = nullptr;
  int parsed = dcp_record_parse(bytes, n_bytes, &raw, &error);
  BOOST_REQUIRE_MESSAGE(parsed == 0, "Export gave a record that does not parse: "
                                         << (error ? error : "?"));
  std::unique_ptr<DcpRecord, decltype(&dcp_record_free)> record(raw, dcp_record_free);
  BOOST_TEST(dcp_record_get_checkpoint_id(record.get()) == id);
  BOOST_TEST(dcp_record_get_unique_name(record.get()) == service.unique_name());
  BOOST_REQUIRE_EQUAL(dcp_record_get_n_names(record.get()), 1u);
  const char *name = nullptr;
  uint32_t flags = 0, position = 99;
  BOOST_REQUIRE_EQUAL(dcp_record_get_name(record.get(), 0, &name, &flags, &position), 0);
  BOOST_TEST(name == service.well_known_name());
  BOOST_TEST(position == 0u);
  bool has_poke_rule = false;
  for (size_t i = 0; i < dcp_record_get_n_match_rules(record.get()); i++)
    has_poke_rule |= std::string(dcp_record_get_match_rule(record.get(), i)).find("Poke") !=
                     std::string::npos;
  BOOST_TEST(has_poke_rule, "the service's match rule is in the record");
  uint32_t uid = 1, pid = 0;
  const uint32_t *gids = nullptr;
  size_t n_gids = 0;
  const char *label = nullptr;
  dcp_record_get_credentials(record.get(), &uid, &gids, &n_gids, &pid, &label);
  BOOST_TEST(uid == 0u);
  BOOST_TEST(pid == static_cast<uint32_t>(service.pid()));
  free(error);
  thaw(admin.get(), id);
}

// A frozen name stays owned, so a call never activates a second instance
// of its service, even with a .service file for it: the caller gets
// NameFrozen, not an activation attempt (which would fail here, there is
// no setuid launch helper in a test bus).
BOOST_FIXTURE_TEST_CASE(frozen_activatable_name_is_not_activated_again, Fixture)
{
  std::ofstream(bus.dir() / "services" / "org.dbuscheckpoint.Sample.service")
      << "[D-BUS Service]\nName=org.dbuscheckpoint.Sample\nExec=/bin/false\nUser=root\n";
  CallResult reloaded = call(admin.get(), bus_method("org.freedesktop.DBus", "ReloadConfig"));
  BOOST_REQUIRE_MESSAGE(reloaded.ok(), reloaded.describe());
  CallResult activatable = call(admin.get(), bus_method("org.freedesktop.DBus", "ListActivatableNames"));
  auto names = read_string_array(activatable.reply.get());
  BOOST_REQUIRE((std::find(names.begin(), names.end(), kSampleDefaultName) != names.end()));

  // Unowned, the name is activated (and that fails here): what a frozen
  // name must never lead to.
  CallResult unowned = call(admin.get(), sample_method(kSampleDefaultName, "Get"));
  BOOST_TEST_MESSAGE("unowned: " << unowned.describe());
  BOOST_REQUIRE(!unowned.ok());
  BOOST_REQUIRE(unowned.error_name != kNameFrozen);
  BOOST_REQUIRE(bus.log().find("Activating") != std::string::npos);
  auto activations = [&] {
    std::string log = bus.log();
    size_t n = 0;
    for (auto at = log.find("Activating"); at != std::string::npos; at = log.find("Activating", at + 1))
      n++;
    return n;
  };
  const size_t activations_before = activations();

  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze(admin.get(), kSampleDefaultName);
  CallResult r = call(admin.get(), sample_method(kSampleDefaultName, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, r.describe());
  kill(service.pid(), SIGKILL);
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));
  r = call(admin.get(), sample_method(kSampleDefaultName, "Get"));
  BOOST_TEST(r.error_name == kNameFrozen, "detached: " << r.describe());
  BOOST_TEST(activations() == activations_before, bus.log());
}

// A name its frozen owner allowed to be replaced stays its own: a
// RequestName with REPLACE_EXISTING queues instead of taking it.
BOOST_FIXTURE_TEST_CASE(frozen_owner_keeps_a_replaceable_name, Fixture)
{
  constexpr const char *kName = "org.dbuscheckpoint.Replaceable";
  SdBus owner = open_system_bus();
  BOOST_REQUIRE_GE(sd_bus_request_name(owner.get(), kName, SD_BUS_NAME_ALLOW_REPLACEMENT), 0);
  const char *owner_unique = nullptr;
  BOOST_REQUIRE_GE(sd_bus_get_unique_name(owner.get(), &owner_unique), 0);
  auto request_replacing = [&](sd_bus *bus) {
    constexpr uint32_t kDBusNameFlagReplaceExisting = 0x2;  // the wire flag, not sd-bus's
    CallResult r = call(bus, bus_method("org.freedesktop.DBus", "RequestName"), "su", kName,
                        kDBusNameFlagReplaceExisting);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.describe());
    uint32_t result = 0;
    BOOST_REQUIRE_GE(sd_bus_message_read(r.reply.get(), "u", &result), 0);
    return result;
  };

  std::string id = freeze(admin.get(), kName);
  SdBus newcomer = open_system_bus();
  BOOST_TEST(request_replacing(newcomer.get()) == 2u, "DBUS_REQUEST_NAME_REPLY_IN_QUEUE");
  CallResult owner_now = call(admin.get(), bus_method("org.freedesktop.DBus", "GetNameOwner"), "s", kName);
  BOOST_REQUIRE(owner_now.ok());
  BOOST_TEST(read_string(owner_now.reply.get()) == owner_unique);

  // Thawed, the name is replaceable again, as its owner asked.
  thaw(admin.get(), id);
  SdBus second = open_system_bus();
  BOOST_TEST(request_replacing(second.get()) == 1u, "DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER");
}
