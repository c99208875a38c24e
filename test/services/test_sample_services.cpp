// SPDX-License-Identifier: GPL-2.0-or-later
// The three sample services (sd-bus, python3-dbus, GDBus) behave the same
// on a private system bus: every test runs once per kind, and Boost names
// the kind in the context of any failure.
#define BOOST_TEST_MODULE sample_services
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "bus_client.hpp"
#include "private_bus.hpp"
#include "sample_service.hpp"

using namespace std::chrono_literals;
using dcp::test::MethodCall;
using dcp::test::PrivateSystemBus;
using dcp::test::SampleKind;
using dcp::test::SampleOptions;
using dcp::test::SampleService;
using dcp::test::SdBus;

namespace {

const auto kKinds = boost::unit_test::data::make(dcp::test::all_sample_kinds());

MethodCall sample_method(const std::string &destination, const std::string &member)
{
  return {destination, dcp::test::kSampleObjectPath, dcp::test::kSampleInterface, member, 10s};
}

// Calls a method that must succeed and returns its reply.
dcp::test::SdBusMessage must_call(sd_bus *client, const SampleService &service,
                                  const std::string &member,
                                  const dcp::test::ArgumentWriter &arguments = {})
{
  auto result = dcp::test::call(client, sample_method(service.well_known_name(), member),
                                arguments);
  BOOST_REQUIRE_MESSAGE(result.ok(), member << " on " << service.kind() << ": "
                                            << result.describe() << "\nservice log:\n"
                                            << service.log());
  return std::move(result.reply);
}

uint64_t call_uint64(sd_bus *client, const SampleService &service, const std::string &member)
{
  return dcp::test::read_uint64(must_call(client, service, member).get());
}

std::vector<std::string> peer_replies(sd_bus *client, const SampleService &service)
{
  return dcp::test::read_string_array(must_call(client, service, "GetPeerReplies").get());
}

void call_peer(sd_bus *client, const SampleService &caller, const std::string &destination)
{
  must_call(client, caller, "CallPeer", [&](sd_bus_message *message) {
    return sd_bus_message_append(message, "s", destination.c_str());
  });
}

SampleOptions named(const std::string &name, unsigned init_ms = 0)
{
  SampleOptions options;
  options.name = name;
  options.init_ms = init_ms;
  return options;
}

} // namespace

BOOST_DATA_TEST_CASE(increment_get_and_changed_signals, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  SdBus client = dcp::test::open_system_bus();
  dcp::test::SignalCollector changed(
      client.get(), "type='signal',sender='" + service.unique_name() + "',path='" +
                        dcp::test::kSampleObjectPath + "',interface='" +
                        dcp::test::kSampleInterface + "',member='Changed'");

  for (uint64_t expected = 1; expected <= 3; expected++)
    BOOST_TEST(call_uint64(client.get(), service, "Increment") == expected);
  BOOST_TEST(call_uint64(client.get(), service, "Get") == 3u);

  BOOST_REQUIRE_MESSAGE(changed.wait_for(3, 5s),
                        "only " << changed.signals().size() << " Changed signals");
  std::vector<uint64_t> values;
  for (const auto &signal : changed.signals()) {
    sd_bus_message_rewind(signal.get(), true);
    values.push_back(dcp::test::read_uint64(signal.get()));
  }
  BOOST_TEST(values == (std::vector<uint64_t>{1, 2, 3}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(echo_round_trips, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  SdBus client = dcp::test::open_system_bus();
  for (std::string text : {"hello", "", "ünïcödé ✓ with spaces\tand tabs"}) {
    auto reply = must_call(client.get(), service, "Echo", [&](sd_bus_message *message) {
      return sd_bus_message_append(message, "s", text.c_str());
    });
    BOOST_TEST(dcp::test::read_string(reply.get()) == text);
  }
}

BOOST_DATA_TEST_CASE(pokes_from_any_path_are_counted, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  SdBus client = dcp::test::open_system_bus();
  for (const char *path : {"/org/dbuscheckpoint/Test", "/", "/some/other/path"}) {
    int r = sd_bus_emit_signal(client.get(), path, dcp::test::kSampleInterface, "Poke", "");
    BOOST_REQUIRE_GE(r, 0);
  }
  // Same connection, so the bus delivers the Pokes before this call.
  BOOST_TEST(call_uint64(client.get(), service, "GetPokes") == 3u);
}

BOOST_DATA_TEST_CASE(peers_call_each_other, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService first(kind, bus, named("org.dbuscheckpoint.SampleA"));
  SampleService second(kind, bus, named("org.dbuscheckpoint.SampleB"));
  SdBus client = dcp::test::open_system_bus();
  BOOST_TEST(peer_replies(client.get(), first).empty());

  call_peer(client.get(), first, second.well_known_name());
  call_peer(client.get(), second, first.well_known_name());
  auto has_replies = [&](const SampleService &service, std::size_t count) {
    return dcp::test::wait_until([&] { return peer_replies(client.get(), service).size() >= count; },
                                 10s);
  };
  BOOST_REQUIRE(has_replies(first, 1));
  BOOST_REQUIRE(has_replies(second, 1));
  BOOST_TEST(peer_replies(client.get(), first) ==
                 (std::vector<std::string>{"from org.dbuscheckpoint.SampleA"}),
             boost::test_tools::per_element());
  BOOST_TEST(peer_replies(client.get(), second) ==
                 (std::vector<std::string>{"from org.dbuscheckpoint.SampleB"}),
             boost::test_tools::per_element());

  // A failed call is recorded by its error name.
  call_peer(client.get(), first, "org.dbuscheckpoint.Nobody");
  BOOST_REQUIRE(has_replies(first, 2));
  BOOST_TEST(peer_replies(client.get(), first).at(1) ==
             "error: org.freedesktop.DBus.Error.ServiceUnknown");
}

BOOST_DATA_TEST_CASE(init_ms_delays_readiness, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService fast(kind, bus, named("org.dbuscheckpoint.Fast"));
  SampleService slow(kind, bus, named("org.dbuscheckpoint.Slow", 300));
  BOOST_TEST_MESSAGE(kind << ": ready after " << fast.startup_time().count()
                          << " ms with --init-ms 0, " << slow.startup_time().count()
                          << " ms with --init-ms 300");
  BOOST_TEST(slow.startup_time().count() >= 300);
}

BOOST_DATA_TEST_CASE(heap_mb_is_resident, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleOptions options;
  options.heap_mb = 64;
  SampleService service(kind, bus, options);
  uint64_t rss_kib = dcp::test::resident_set_kib(service.pid());
  BOOST_TEST_MESSAGE(kind << ": VmRSS " << rss_kib << " KiB with --heap-mb 64");
  BOOST_TEST(rss_kib >= 64u * 1024u);
}

BOOST_DATA_TEST_CASE(busy_blocks_then_replies, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  SdBus client = dcp::test::open_system_bus();
  auto started = std::chrono::steady_clock::now();
  must_call(client.get(), service, "Busy", [](sd_bus_message *message) {
    return sd_bus_message_append(message, "u", 200u);
  });
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  BOOST_TEST(elapsed.count() >= 200);
}

BOOST_DATA_TEST_CASE(quit_exits_zero, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  SdBus client = dcp::test::open_system_bus();
  must_call(client.get(), service, "Quit");
  auto status = service.wait_for_exit(10s);
  BOOST_REQUIRE_MESSAGE(status.has_value(), "still running after Quit");
  BOOST_TEST(WIFEXITED(*status));
  BOOST_TEST(WEXITSTATUS(*status) == 0, "exit status; log:\n" << service.log());
}

BOOST_DATA_TEST_CASE(help_and_bad_options, kKinds, kind)
{
  auto run = [&](std::vector<std::string> options) {
    auto argv = dcp::test::sample_command(kind);
    argv.insert(argv.end(), options.begin(), options.end());
    return dcp::test::run_command(argv);
  };
  auto help = run({"--help"});
  BOOST_REQUIRE_MESSAGE(help.ok(), help.describe());
  for (const char *option : {"--name", "--init-ms", "--heap-mb", "--ready-file", "--help"})
    BOOST_TEST(help.out.find(option) != std::string::npos, option << " in --help");

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--no-such-option"}, {"--init-ms", "soon"}, {"--heap-mb", "-1"}, {"--name"}}) {
    auto result = run(bad);
    BOOST_TEST(result.exit_status == 2, bad.front() << ": " << result.describe());
    BOOST_TEST(!result.err.empty(), bad.front() << " explains itself");
  }
}

// The bus policy alone decides who may call (sd-bus would otherwise demand
// CAP_SYS_ADMIN of system-bus callers and look their credentials up).
BOOST_DATA_TEST_CASE(unprivileged_callers_are_served, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  auto result = dcp::test::run_command(
      {DCP_SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", DCP_BUSCTL, "--system",
       "call", service.well_known_name(), dcp::test::kSampleObjectPath,
       dcp::test::kSampleInterface, "Echo", "s", "as nobody"});
  BOOST_REQUIRE_MESSAGE(result.ok(), result.describe());
  BOOST_TEST(result.out == "s \"as nobody\"\n");
}

// A call that expects no reply is still carried out, even if its sender
// has already disconnected.
BOOST_DATA_TEST_CASE(no_reply_calls_are_carried_out, kKinds, kind)
{
  PrivateSystemBus bus;
  SampleService service(kind, bus);
  {
    SdBus sender = dcp::test::open_system_bus();
    sd_bus_message *raw = nullptr;
    BOOST_REQUIRE_GE(sd_bus_message_new_method_call(sender.get(), &raw,
                                                    service.well_known_name().c_str(),
                                                    dcp::test::kSampleObjectPath,
                                                    dcp::test::kSampleInterface, "Increment"),
                     0);
    dcp::test::SdBusMessage call(raw);
    BOOST_REQUIRE_GE(sd_bus_message_set_expect_reply(call.get(), 0), 0);
    BOOST_REQUIRE_GE(sd_bus_send(sender.get(), call.get(), nullptr), 0);
  }  // flushed and closed here
  SdBus client = dcp::test::open_system_bus();
  BOOST_TEST(dcp::test::wait_until([&] { return call_uint64(client.get(), service, "Get") == 1; },
                                   5s));
}
