// SPDX-License-Identifier: GPL-2.0-or-later
// Reattach (bus-patches take-over-socket, reattach), played the way the
// CRIU plugin plays it but with bare sockets: a client's connection is frozen, its socket
// closes (as `criu dump` closes it), and a new socket that says Reattach
// instead of Hello continues the same connection — unique name, names,
// match rules — with the bytes it had not read sent again first, then the
// queue, and a message it had half written completed by the new socket.
#define BOOST_TEST_MODULE checkpoint_reattach
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

#include <dbus-checkpoint/bus-abi.h>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "raw_bus_socket.hpp"

using namespace dcp::test;
using namespace std::chrono_literals;

namespace {

constexpr const char *kRawName = "org.dbuscheckpoint.Raw";
constexpr const char *kPokeRule = "type='signal',interface='org.dbuscheckpoint.Sample1',member='Poke'";

// The secret Reattach needs, as the plugin finds it: in the Export record.
std::string reattach_secret(sd_bus *admin, const std::string &id)
{
  const std::string bytes = export_bytes(admin, id);
  DcpRecord *record = nullptr;
  char *problem = nullptr;
  BOOST_REQUIRE_EQUAL(dcp_record_parse(bytes.data(), bytes.size(), &record, &problem), 0);
  std::string secret = dcp_record_get_reattach_secret(record);
  dcp_record_free(record);
  return secret;
}

// The plugin's own Reattach call.
using dbus_checkpoint::raw_bus::new_reattach_call;

std::string error_name(DBusMessage *reply)
{
  return dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR ? dbus_message_get_error_name(reply)
                                                                 : std::string();
}

// A raw client with a name and a match rule, as a service would have.
struct RawService {
  explicit RawService(const PrivateSystemBus &bus) : socket(bus.socket_path())
  {
    socket.authenticate();
    unique_name = socket.hello();
    Message request = new_bus_call("org.freedesktop.DBus", "RequestName");
    const char *name = kRawName;
    dbus_uint32_t flags = 0;
    dbus_message_append_args(request.get(), DBUS_TYPE_STRING, &name, DBUS_TYPE_UINT32, &flags,
                             DBUS_TYPE_INVALID);
    BOOST_REQUIRE(error_name(socket.call(request.get()).get()).empty());
    Message add_match = new_bus_call("org.freedesktop.DBus", "AddMatch");
    const char *rule = kPokeRule;
    dbus_message_append_args(add_match.get(), DBUS_TYPE_STRING, &rule, DBUS_TYPE_INVALID);
    BOOST_REQUIRE(error_name(socket.call(add_match.get()).get()).empty());
  }
  RawBusSocket socket;
  std::string unique_name;
};

void emit_poke(sd_bus *bus)
{
  BOOST_REQUIRE_GE(sd_bus_emit_signal(bus, "/", "org.dbuscheckpoint.Sample1", "Poke", ""), 0);
  BOOST_REQUIRE_GE(sd_bus_flush(bus), 0);
}

struct Fixture {
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
};

} // namespace

BOOST_FIXTURE_TEST_CASE(reattach_continues_the_connection_on_a_new_socket, Fixture)
{
  RawService service(bus);

  // A signal reaches its socket and stays there unread.
  emit_poke(admin.get());
  BOOST_REQUIRE(wait_until([&] { return service.socket.bytes_in_socket() > 0; }, 5s));
  std::this_thread::sleep_for(50ms);

  std::string id = freeze(admin.get(), kRawName);
  emit_poke(admin.get());  // queued in the bus
  BOOST_REQUIRE(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 1u; }, 5s));

  // It had written half a call when it was stopped.
  Message list_names = new_bus_call("org.freedesktop.DBus", "ListNames");
  std::string call_bytes = marshal(list_names.get(), 100);
  service.socket.send_bytes(call_bytes.substr(0, 10));
  std::this_thread::sleep_for(100ms);

  // The plugin's part at dump: peek the unread bytes; then the socket closes.
  std::string unread = service.socket.peek_unread();
  BOOST_REQUIRE(!unread.empty());
  service.socket.close();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));

  // The plugin's part at restore: a new socket, Reattach instead of Hello.
  RawBusSocket restored(bus.socket_path().string());
  restored.authenticate();
  Message reattach = new_reattach_call(id, unread, reattach_secret(admin.get(), id));
  Message reply = restored.call(reattach.get());
  BOOST_REQUIRE_MESSAGE(dbus_message_get_type(reply.get()) == DBUS_MESSAGE_TYPE_METHOD_RETURN,
                        "Reattach: " << error_name(reply.get()));
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].attached);
  BOOST_TEST(frozen[0].unique_name == service.unique_name);
  CallResult still = call(admin.get(), sample_method(kRawName, "Get"));
  BOOST_TEST(still.error_name == kNameFrozen, "frozen until Thaw: " << still.describe());

  // The client finishes the call it had started.
  restored.send_bytes(call_bytes.substr(10));
  thaw(admin.get(), id);

  // Its stream continues at the same byte: first what it had not read...
  BOOST_TEST(restored.read_exactly(unread.size()) == unread);
  // ...then the queue, then the answer to the call it completed.
  Message queued = restored.receive();
  BOOST_TEST(dbus_message_is_signal(queued.get(), "org.dbuscheckpoint.Sample1", "Poke"));
  Message names_reply = restored.receive();
  BOOST_TEST(dbus_message_get_reply_serial(names_reply.get()) == 100u);
  BOOST_TEST(error_name(names_reply.get()).empty(), error_name(names_reply.get()));

  // Calls to its name reach the new socket; its answer reaches the caller.
  std::string answer;
  sd_bus_slot *raw_slot = nullptr;
  BOOST_REQUIRE_GE(sd_bus_call_method_async(
                       admin.get(), &raw_slot, kRawName, "/org/dbuscheckpoint/Sample",
                       "org.dbuscheckpoint.Sample1", "Echo",
                       [](sd_bus_message *m, void *userdata, sd_bus_error *) {
                         const char *text = nullptr;
                         if (sd_bus_message_read(m, "s", &text) >= 0)
                           *static_cast<std::string *>(userdata) = text;
                         return 0;
                       },
                       &answer, "s", "hello"),
                   0);
  SdBusSlot slot(raw_slot);
  BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  Message incoming = restored.receive();
  BOOST_REQUIRE(dbus_message_is_method_call(incoming.get(), "org.dbuscheckpoint.Sample1", "Echo"));
  Message echo = Message(dbus_message_new_method_return(incoming.get()));
  const char *text = "hello again";
  dbus_message_append_args(echo.get(), DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID);
  restored.send_bytes(marshal(echo.get(), 101));
  BOOST_REQUIRE(process_until(admin.get(), [&] { return !answer.empty(); }, 5s));
  BOOST_TEST(answer == "hello again");
  BOOST_TEST(list_frozen(admin.get()).empty());
}

BOOST_FIXTURE_TEST_CASE(reattach_after_a_daemon_restart, Fixture)
{
  std::string id;
  std::string unique;
  {
    RawService service(bus);
    unique = service.unique_name;
    id = freeze(admin.get(), kRawName);
    admin.reset();
    bus.kill_hard();
  }
  bus.start();
  admin = open_system_bus();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).empty(); }, 5s));
  emit_poke(admin.get());
  BOOST_REQUIRE(wait_until([&] { return list_frozen(admin.get()).at(0).queued_messages == 1u; }, 5s));

  RawBusSocket restored(bus.socket_path().string());
  restored.authenticate();
  Message reattach = new_reattach_call(id, "", reattach_secret(admin.get(), id));
  Message reply = restored.call(reattach.get());
  BOOST_REQUIRE_MESSAGE(error_name(reply.get()).empty(), error_name(reply.get()));
  thaw(admin.get(), id);
  Message queued = restored.receive();
  BOOST_TEST(dbus_message_is_signal(queued.get(), "org.dbuscheckpoint.Sample1", "Poke"));

  Message get_owner = new_bus_call("org.freedesktop.DBus", "GetNameOwner");
  const char *name = kRawName;
  dbus_message_append_args(get_owner.get(), DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID);
  restored.send_bytes(marshal(get_owner.get(), 500));
  Message owner = restored.receive();
  while (dbus_message_get_reply_serial(owner.get()) != 500u)
    owner = restored.receive();
  const char *owner_name = nullptr;
  BOOST_REQUIRE(dbus_message_get_args(owner.get(), nullptr, DBUS_TYPE_STRING, &owner_name,
                                      DBUS_TYPE_INVALID));
  BOOST_TEST(owner_name == unique);
}

BOOST_FIXTURE_TEST_CASE(reattach_is_refused_when_it_must_be, Fixture)
{
  RawService service(bus);
  std::string id = freeze(admin.get(), kRawName);
  const std::string secret = reattach_secret(admin.get(), id);

  auto reattach_error = [&](const std::string &checkpoint, bool hello_first) {
    RawBusSocket s(bus.socket_path().string());
    s.authenticate();
    if (hello_first)
      s.hello();
    Message m = new_reattach_call(checkpoint, "", secret);
    return error_name(s.call(m.get()).get());
  };
  BOOST_TEST(reattach_error("ffffffffffffffffffffffffffffffff", false) ==
             "org.freedesktop.DBus.Error.InvalidArgs");
  BOOST_TEST(reattach_error(id, false) == "org.freedesktop.DBus.Error.Failed", "still attached");

  service.socket.close();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));
  BOOST_TEST(reattach_error(id, true) == "org.freedesktop.DBus.Error.Failed", "after Hello");

  // An unprivileged user may not take over root's connection.
  pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
      _exit(3);
    try {
      _exit(reattach_error(id, false) == "org.freedesktop.DBus.Error.AccessDenied" ? 0 : 1);
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "nobody's Reattach: status " << status);
  BOOST_TEST(!list_frozen(admin.get()).at(0).attached, "refusals changed nothing");
}

// Issue 12, finding 1: Reattach trusted the uid alone, so any process of
// the record's uid (or any root process) could take the connection over
// between checkpoint and restore.  Now it needs the record's secret, and
// each secret serves once.
BOOST_FIXTURE_TEST_CASE(reattach_needs_the_secret_of_the_record, Fixture)
{
  RawService service(bus);
  std::string id = freeze(admin.get(), kRawName);
  const std::string secret = reattach_secret(admin.get(), id);
  BOOST_TEST(secret.size() == 32u);
  service.socket.close();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));

  auto reattach = [&](const std::string &given, std::unique_ptr<RawBusSocket> &kept) {
    auto s = std::make_unique<RawBusSocket>(bus.socket_path().string());
    s->authenticate();
    Message m = new_reattach_call(id, "", given);
    std::string error = error_name(s->call(m.get()).get());
    if (error.empty())
      kept = std::move(s);
    return error;
  };
  std::unique_ptr<RawBusSocket> restored;
  const std::string denied = "org.freedesktop.DBus.Error.AccessDenied";
  BOOST_TEST(reattach("", restored) == denied, "root without the secret");
  BOOST_TEST(reattach(std::string(32, '0'), restored) == denied, "a wrong secret");
  BOOST_TEST(reattach(secret.substr(0, 31), restored) == denied, "a prefix of it");
  BOOST_TEST(!list_frozen(admin.get()).at(0).attached, "refusals changed nothing");

  BOOST_REQUIRE_EQUAL(reattach(secret, restored), "");
  BOOST_TEST(list_frozen(admin.get()).at(0).attached);
  std::unique_ptr<RawBusSocket> intruder;
  BOOST_TEST(!reattach(secret, intruder).empty(),
             "an attached connection is not taken over, secret or not");

  // The restored process died before Thaw: the same images may try again.
  restored.reset();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));
  BOOST_TEST(reattach("", restored) == denied, "still not without the secret");
  BOOST_REQUIRE_EQUAL(reattach(secret, restored), "");

  // Once thawed, the checkpoint is over: a new Freeze draws a new secret,
  // and the old images' secret serves no more.
  CallResult thawed = call(admin.get(), checkpoint_method("Thaw"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(thawed.ok(), thawed.describe());
  const std::string id2 = freeze(admin.get(), kRawName);
  const std::string next = reattach_secret(admin.get(), id2);
  BOOST_TEST(next != secret, "a new checkpoint, a new secret");
}

// Issue 12, finding 5: Thaw wrote the unread bytes with a blocking send
// loop and poll (5 s) on the bus's only thread: a client that did not read
// stalled the whole bus (and Thaw failed), and a Thaw tried again sent the
// bytes already written a second time.  Now the transport's own
// non-blocking writer sends them, ahead of the queue, each byte once.
BOOST_FIXTURE_TEST_CASE(thaw_does_not_wait_for_a_client_that_does_not_read, Fixture)
{
  RawService service(bus);
  std::string id = freeze(admin.get(), kRawName);
  constexpr int kQueued = 3;
  for (int i = 0; i < kQueued; ++i)
    BOOST_REQUIRE_GE(sd_bus_emit_signal(admin.get(), "/", "org.dbuscheckpoint.Sample1", "Poke",
                                        "i", i),
                     0);
  BOOST_REQUIRE_GE(sd_bus_flush(admin.get()), 0);
  BOOST_REQUIRE(wait_until(
      [&] { return list_frozen(admin.get()).at(0).queued_messages == unsigned(kQueued); }, 5s));
  service.socket.close();
  BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s));

  // Far more unread bytes than a socket holds: the client reads nothing yet.
  std::string unread(4 << 20, '\0');
  for (std::size_t i = 0; i < unread.size(); ++i)
    unread[i] = static_cast<char>((i * 7 + i / 4093) % 251);
  RawBusSocket restored(bus.socket_path().string());
  restored.authenticate();
  Message reattach = new_reattach_call(id, unread, reattach_secret(admin.get(), id));
  Message reply = restored.call(reattach.get(), 20s);
  BOOST_REQUIRE_MESSAGE(error_name(reply.get()).empty(), "Reattach: " << error_name(reply.get()));

  CallResult thawed = call(admin.get(), checkpoint_method("Thaw"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(thawed.ok(), "Thaw while the client does not read: " << thawed.describe());
  BOOST_REQUIRE_LT(restored.bytes_in_socket(), unread.size());  // its socket is full
  MethodCall get_id = bus_method("org.freedesktop.DBus", "GetId");
  get_id.timeout = 2s;
  for (int i = 0; i < 5; ++i) {
    CallResult other = call(admin.get(), get_id);
    BOOST_REQUIRE_MESSAGE(other.ok(), "the bus answers others meanwhile: " << other.describe());
  }
  CallResult again = call(admin.get(), checkpoint_method("Thaw"), "s", id.c_str());
  BOOST_TEST(!again.ok(), "a second Thaw of a thawed checkpoint");

  // Its stream: exactly the unread bytes, once, then the queue in order.
  BOOST_TEST((restored.read_exactly(unread.size(), 20s) == unread));
  for (int i = 0; i < kQueued; ++i) {
    Message queued = restored.receive();
    BOOST_REQUIRE(dbus_message_is_signal(queued.get(), "org.dbuscheckpoint.Sample1", "Poke"));
    dbus_int32_t n = -1;
    BOOST_REQUIRE(dbus_message_get_args(queued.get(), nullptr, DBUS_TYPE_INT32, &n, DBUS_TYPE_INVALID));
    BOOST_TEST(n == i);
  }
  emit_poke(admin.get());  // the next thing on its stream, nothing sent again before it
  Message next = restored.receive();
  BOOST_TEST(dbus_message_is_signal(next.get(), "org.dbuscheckpoint.Sample1", "Poke"));
  BOOST_TEST(std::string(dbus_message_get_signature(next.get())).empty());
  BOOST_TEST(list_frozen(admin.get()).empty());
}
