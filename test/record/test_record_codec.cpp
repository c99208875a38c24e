// SPDX-License-Identifier: GPL-2.0-or-later
// Building, serializing and parsing a record through the C ABI: every getter
// returns what was set, before and after a round trip; setters refuse what
// dcp_record_parse would refuse.
#define BOOST_TEST_MODULE record_codec
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <string>
#include <string_view>

#include "record/validate.hpp"
#include "record_fixtures.hpp"

using dcp::test::full_record_values;
using dcp::test::RecordPtr;

namespace {

std::string_view view(const void *bytes, std::size_t n_bytes)
{
  return {static_cast<const char *>(bytes), n_bytes};
}

void check_holds_full_values(const DcpRecord *r)
{
  const auto &values = full_record_values();
  BOOST_TEST(dcp_record_get_checkpoint_id(r) == std::string(dcp::test::kCheckpointId));
  BOOST_TEST(dcp_record_get_unique_name(r) == std::string(dcp::test::kUniqueName));

  BOOST_REQUIRE_EQUAL(dcp_record_get_n_names(r), values.names.size());
  for (std::size_t i = 0; i < values.names.size(); ++i) {
    const char *name = nullptr;
    std::uint32_t flags = 0, queue_position = 0;
    BOOST_REQUIRE_EQUAL(dcp_record_get_name(r, i, &name, &flags, &queue_position), 0);
    BOOST_TEST(name == values.names[i].name);
    BOOST_TEST(flags == values.names[i].flags);
    BOOST_TEST(queue_position == values.names[i].queue_position);
  }

  BOOST_REQUIRE_EQUAL(dcp_record_get_n_match_rules(r), values.match_rules.size());
  for (std::size_t i = 0; i < values.match_rules.size(); ++i)
    BOOST_TEST(dcp_record_get_match_rule(r, i) == values.match_rules[i]);

  BOOST_REQUIRE_EQUAL(dcp_record_get_n_pending_replies(r), values.replies.size());
  for (std::size_t i = 0; i < values.replies.size(); ++i) {
    DcpReplyDirection direction{};
    const char *peer = nullptr;
    std::uint32_t serial = 0;
    std::int64_t timeout = 0;
    BOOST_REQUIRE_EQUAL(dcp_record_get_pending_reply(r, i, &direction, &peer, &serial, &timeout),
                        0);
    BOOST_TEST(direction == values.replies[i].direction);
    BOOST_TEST(peer == values.replies[i].peer);
    BOOST_TEST(serial == values.replies[i].serial);
    BOOST_TEST(timeout == values.replies[i].remaining_timeout_ms);
  }

  std::uint32_t uid = 0, pid = 0;
  const std::uint32_t *gids = nullptr;
  std::size_t n_gids = 0;
  const char *label = nullptr;
  dcp_record_get_credentials(r, &uid, &gids, &n_gids, &pid, &label);
  BOOST_TEST(uid == values.uid);
  BOOST_TEST(std::vector<std::uint32_t>(gids, gids + n_gids) == values.gids,
             boost::test_tools::per_element());
  BOOST_TEST(pid == values.pid);
  BOOST_TEST(label == values.security_label);

  BOOST_TEST(dcp_record_get_next_bus_serial(r) == values.next_bus_serial);
  BOOST_TEST(dcp_record_get_unix_fd_passing(r) == 1);

  BOOST_REQUIRE_EQUAL(dcp_record_get_n_queued_messages(r), values.queued.size());
  for (std::size_t i = 0; i < values.queued.size(); ++i) {
    const void *bytes = nullptr;
    std::size_t n_bytes = 0;
    int is_reply = -1;
    BOOST_REQUIRE_EQUAL(dcp_record_get_queued_message(r, i, &bytes, &n_bytes, &is_reply), 0);
    BOOST_TEST(view(bytes, n_bytes) == values.queued[i].bytes);
    BOOST_TEST(is_reply == int(values.queued[i].is_reply));
  }

  BOOST_TEST(dcp_record_get_dropped_signals(r) == values.dropped_signals);
  const void *bytes = nullptr;
  std::size_t n_bytes = 0;
  dcp_record_get_unparsed_from_client(r, &bytes, &n_bytes);
  BOOST_TEST(view(bytes, n_bytes) == values.unparsed_from_client);
  dcp_record_get_unread_by_client(r, &bytes, &n_bytes);
  BOOST_TEST(view(bytes, n_bytes) == values.unread_by_client);
  BOOST_TEST(dcp_record_get_frozen_since_usec(r) == values.frozen_since_usec);
}

} // namespace

BOOST_AUTO_TEST_CASE(getters_return_what_setters_set)
{
  check_holds_full_values(dcp::test::make_full_record().get());
}

BOOST_AUTO_TEST_CASE(full_record_survives_serialize_and_parse)
{
  const std::string bytes = dcp::test::serialize(dcp::test::make_full_record().get());
  auto parsed = dcp::test::parse(bytes);
  BOOST_REQUIRE_MESSAGE(parsed.result == 0, parsed.error);
  BOOST_TEST(parsed.error.empty());
  check_holds_full_values(parsed.record.get());
  BOOST_TEST(dcp::test::serialize(parsed.record.get()) == bytes);
}

BOOST_AUTO_TEST_CASE(minimal_record_has_defaults)
{
  auto parsed = dcp::test::parse(dcp::test::serialize(dcp::test::make_minimal_record().get()));
  BOOST_REQUIRE_MESSAGE(parsed.result == 0, parsed.error);
  const DcpRecord *r = parsed.record.get();
  BOOST_TEST(dcp_record_get_n_names(r) == 0u);
  BOOST_TEST(dcp_record_get_n_match_rules(r) == 0u);
  BOOST_TEST(dcp_record_get_n_pending_replies(r) == 0u);
  BOOST_TEST(dcp_record_get_n_queued_messages(r) == 0u);
  BOOST_TEST(dcp_record_get_unix_fd_passing(r) == 0);
  std::size_t n_gids = 99;
  const char *label = nullptr;
  dcp_record_get_credentials(r, nullptr, nullptr, &n_gids, nullptr, &label);
  BOOST_TEST(n_gids == 0u);
  BOOST_TEST(label == std::string());
  std::size_t n_bytes = 99;
  dcp_record_get_unread_by_client(r, nullptr, &n_bytes);
  BOOST_TEST(n_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(index_getters_refuse_out_of_range)
{
  auto record = dcp::test::make_full_record();
  const DcpRecord *r = record.get();
  const auto &values = full_record_values();
  const char *name = nullptr;
  BOOST_TEST(dcp_record_get_name(r, values.names.size(), &name, nullptr, nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_get_match_rule(r, values.match_rules.size()) == nullptr);
  BOOST_TEST(dcp_record_get_pending_reply(r, values.replies.size(), nullptr, nullptr, nullptr,
                                          nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_get_queued_message(r, values.queued.size(), nullptr, nullptr, nullptr) ==
             -EINVAL);
  BOOST_TEST(dcp_record_get_name(r, SIZE_MAX, &name, nullptr, nullptr) == -EINVAL);
}

BOOST_AUTO_TEST_CASE(getters_accept_null_record)
{
  BOOST_TEST(dcp_record_get_checkpoint_id(nullptr) == nullptr);
  BOOST_TEST(dcp_record_get_unique_name(nullptr) == nullptr);
  BOOST_TEST(dcp_record_get_n_names(nullptr) == 0u);
  BOOST_TEST(dcp_record_get_name(nullptr, 0, nullptr, nullptr, nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_get_match_rule(nullptr, 0) == nullptr);
  BOOST_TEST(dcp_record_get_pending_reply(nullptr, 0, nullptr, nullptr, nullptr, nullptr) ==
             -EINVAL);
  BOOST_TEST(dcp_record_get_queued_message(nullptr, 0, nullptr, nullptr, nullptr) == -EINVAL);
  std::uint32_t uid = 7;
  dcp_record_get_credentials(nullptr, &uid, nullptr, nullptr, nullptr, nullptr);
  BOOST_TEST(uid == 0u);
  BOOST_TEST(dcp_record_get_unix_fd_passing(nullptr) == 0);
  dcp_record_free(nullptr);
}

BOOST_AUTO_TEST_CASE(setters_refuse_null_record)
{
  const std::string message = dcp::test::marshalled_message(1);
  BOOST_TEST(dcp_record_add_name(nullptr, "org.example.A", 0, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_match_rule(nullptr, "type='signal'") == -EINVAL);
  BOOST_TEST(dcp_record_add_pending_reply(nullptr, DCP_REPLY_OWED_BY_CONNECTION, ":1.1", 1, 0) ==
             -EINVAL);
  BOOST_TEST(dcp_record_set_credentials(nullptr, 0, nullptr, 0, 0, nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_set_next_bus_serial(nullptr, 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_unix_fd_passing(nullptr, 1) == -EINVAL);
  BOOST_TEST(dcp_record_add_queued_message(nullptr, message.data(), message.size(), 0) == -EINVAL);
  BOOST_TEST(dcp_record_set_dropped_signals(nullptr, 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_unparsed_from_client(nullptr, "x", 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_unread_by_client(nullptr, "x", 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_frozen_since_usec(nullptr, 1) == -EINVAL);
  void *bytes = nullptr;
  std::size_t n_bytes = 0;
  BOOST_TEST(dcp_record_serialize(nullptr, &bytes, &n_bytes) == -EINVAL);
}

BOOST_AUTO_TEST_CASE(new_refuses_malformed_arguments)
{
  using dcp::test::kCheckpointId;
  BOOST_TEST(dcp_record_new(nullptr, ":1.1") == nullptr);
  BOOST_TEST(dcp_record_new(kCheckpointId, nullptr) == nullptr);
  BOOST_TEST(dcp_record_new(kCheckpointId, "org.example.NotUnique") == nullptr);
  BOOST_TEST(dcp_record_new(kCheckpointId, ":1") == nullptr);
  BOOST_TEST(dcp_record_new(kCheckpointId, ":1..2") == nullptr);
  BOOST_TEST(dcp_record_new(kCheckpointId, ":1.2/3") == nullptr);
}

BOOST_AUTO_TEST_CASE(setters_refuse_what_parse_refuses)
{
  auto record = dcp::test::make_minimal_record();
  DcpRecord *r = record.get();
  const std::string long_rule(dbus_checkpoint::record::kMaxMatchRuleBytes + 1, 'a');
  const std::string long_label(dbus_checkpoint::record::kMaxSecurityLabelBytes + 1, 'a');
  const std::string short_message = dcp::test::marshalled_message(1, 15);
  std::string big_endian_v2 = dcp::test::marshalled_message(1);
  big_endian_v2[0] = 'B';
  big_endian_v2[3] = 2;
  const std::uint32_t gid = 5;

  BOOST_TEST(dcp_record_add_name(r, nullptr, 0, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_name(r, "org.freedesktop.DBus", 0, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_name(r, ":1.5", 0, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_name(r, "org.example.3d", 0, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_name(r, "org.example.A", 0x8, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_match_rule(r, "") == -EINVAL);
  BOOST_TEST(dcp_record_add_match_rule(r, long_rule.c_str()) == -EINVAL);
  BOOST_TEST(dcp_record_add_match_rule(r, "arg0='\xff'") == -EINVAL);
  BOOST_TEST(dcp_record_add_match_rule(r, "arg0='\xed\xa0\x80'") == -EINVAL); // a surrogate
  BOOST_TEST(dcp_record_add_match_rule(r, "arg0='\xc0\xaf'") == -EINVAL);     // overlong '/'
  BOOST_TEST(dcp_record_add_pending_reply(r, DCP_REPLY_OWED_BY_CONNECTION, "org.example.A", 1,
                                          0) == -EINVAL);
  BOOST_TEST(dcp_record_add_pending_reply(r, DCP_REPLY_OWED_TO_CONNECTION, ":1.1", 0, 0) ==
             -EINVAL);
  BOOST_TEST(dcp_record_add_pending_reply(r, DCP_REPLY_OWED_BY_CONNECTION, ":1.1", 1, -2) ==
             -EINVAL);
  BOOST_TEST(dcp_record_add_pending_reply(r, static_cast<DcpReplyDirection>(2), ":1.1", 1, 0) ==
             -EINVAL);
  BOOST_TEST(dcp_record_set_credentials(r, 0, nullptr, 1, 0, nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_set_credentials(r, 0, &gid, 1, 0, long_label.c_str()) == -EINVAL);
  BOOST_TEST(dcp_record_add_queued_message(r, nullptr, 16, 0) == -EINVAL);
  BOOST_TEST(dcp_record_add_queued_message(r, short_message.data(), short_message.size(), 0) ==
             -EINVAL);
  BOOST_TEST(dcp_record_add_queued_message(r, big_endian_v2.data(), big_endian_v2.size(), 0) ==
             -EINVAL);
  BOOST_TEST(dcp_record_set_unparsed_from_client(r, nullptr, 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_unread_by_client(
                 r, "x", dbus_checkpoint::record::kMaxStreamBytes + 1) == -EINVAL);
  BOOST_TEST(dcp_record_set_frozen_since_usec(r, -1) == -EINVAL);

  // Nothing refused was kept: the record still reads back as it was.
  auto parsed = dcp::test::parse(dcp::test::serialize(r));
  BOOST_REQUIRE_MESSAGE(parsed.result == 0, parsed.error);
  BOOST_TEST(dcp_record_get_n_names(parsed.record.get()) == 0u);
  BOOST_TEST(dcp_record_get_n_match_rules(parsed.record.get()) == 0u);
  BOOST_TEST(dcp_record_get_n_pending_replies(parsed.record.get()) == 0u);
  BOOST_TEST(dcp_record_get_n_queued_messages(parsed.record.get()) == 0u);
}

BOOST_AUTO_TEST_CASE(setters_accept_the_edges)
{
  auto record = dcp::test::make_minimal_record();
  DcpRecord *r = record.get();
  const std::string longest_name =
      "a." + std::string(dbus_checkpoint::record::kMaxBusNameBytes - 2, 'b');
  const std::string longest_rule(dbus_checkpoint::record::kMaxMatchRuleBytes, 'a');
  const std::string shortest_message = dcp::test::marshalled_message(3, 16);
  BOOST_TEST(dcp_record_add_name(r, longest_name.c_str(), 0x7, 0) == 0);
  BOOST_TEST(dcp_record_add_name(r, "_a-b.c_-9", 0, 0) == 0);
  BOOST_TEST(dcp_record_add_match_rule(r, longest_rule.c_str()) == 0);
  BOOST_TEST(dcp_record_add_match_rule(r, "arg0='\xf0\x9f\x98\x80'") == 0);
  BOOST_TEST(dcp_record_add_pending_reply(r, DCP_REPLY_OWED_TO_CONNECTION, ":1.1", 1, -1) == 0);
  BOOST_TEST(dcp_record_add_pending_reply(r, DCP_REPLY_OWED_TO_CONNECTION, ":x-y.0_z", 1, 0) == 0);
  BOOST_TEST(dcp_record_add_queued_message(r, shortest_message.data(), 16, 1) == 0);
  BOOST_TEST(dcp_record_set_frozen_since_usec(r, 0) == 0);
  BOOST_TEST(dcp_record_set_unparsed_from_client(r, nullptr, 0) == 0);
  BOOST_TEST(dcp_record_set_credentials(r, 0, nullptr, 0, 0, "") == 0);
  auto parsed = dcp::test::parse(dcp::test::serialize(r));
  BOOST_REQUIRE_MESSAGE(parsed.result == 0, parsed.error);
  BOOST_TEST(dcp_record_get_n_names(parsed.record.get()) == 2u);
}

BOOST_AUTO_TEST_CASE(serialize_refuses_record_parse_would_refuse)
{
  void *bytes = nullptr;
  std::size_t n_bytes = 0;
  dcp::test::RecordPtr without_credentials(
      dcp_record_new(dcp::test::kCheckpointId, dcp::test::kUniqueName));
  BOOST_REQUIRE(without_credentials);
  BOOST_TEST(dcp_record_serialize(without_credentials.get(), &bytes, &n_bytes) == -EINVAL);

  auto with_duplicate = dcp::test::make_minimal_record();
  BOOST_REQUIRE_EQUAL(dcp_record_add_name(with_duplicate.get(), "org.example.A", 0, 0), 0);
  BOOST_REQUIRE_EQUAL(dcp_record_add_name(with_duplicate.get(), "org.example.A", 0, 1), 0);
  BOOST_TEST(dcp_record_serialize(with_duplicate.get(), &bytes, &n_bytes) == -EINVAL);
  BOOST_TEST(bytes == nullptr);
  BOOST_TEST(dcp_record_serialize(with_duplicate.get(), nullptr, &n_bytes) == -EINVAL);
}

BOOST_AUTO_TEST_CASE(replies_owed_by_connection_come_first)
{
  auto record = dcp::test::make_minimal_record();
  DcpRecord *r = record.get();
  BOOST_REQUIRE_EQUAL(
      dcp_record_add_pending_reply(r, DCP_REPLY_OWED_TO_CONNECTION, ":1.2", 2, 5), 0);
  BOOST_REQUIRE_EQUAL(
      dcp_record_add_pending_reply(r, DCP_REPLY_OWED_BY_CONNECTION, ":1.1", 1, 5), 0);
  DcpReplyDirection direction{};
  const char *peer = nullptr;
  BOOST_REQUIRE_EQUAL(dcp_record_get_pending_reply(r, 0, &direction, &peer, nullptr, nullptr), 0);
  BOOST_TEST(direction == DCP_REPLY_OWED_BY_CONNECTION);
  BOOST_TEST(peer == std::string(":1.1"));
  BOOST_REQUIRE_EQUAL(dcp_record_get_pending_reply(r, 1, &direction, &peer, nullptr, nullptr), 0);
  BOOST_TEST(direction == DCP_REPLY_OWED_TO_CONNECTION);
  BOOST_TEST(peer == std::string(":1.2"));
}

BOOST_AUTO_TEST_CASE(setting_credentials_again_replaces_them)
{
  auto record = dcp::test::make_full_record();
  const std::uint32_t gid = 42;
  BOOST_REQUIRE_EQUAL(dcp_record_set_credentials(record.get(), 7, &gid, 1, 8, nullptr), 0);
  std::uint32_t uid = 0, pid = 0;
  const std::uint32_t *gids = nullptr;
  std::size_t n_gids = 0;
  const char *label = nullptr;
  dcp_record_get_credentials(record.get(), &uid, &gids, &n_gids, &pid, &label);
  BOOST_TEST(uid == 7u);
  BOOST_REQUIRE_EQUAL(n_gids, 1u);
  BOOST_TEST(gids[0] == 42u);
  BOOST_TEST(pid == 8u);
  BOOST_TEST(label == std::string());
}

BOOST_AUTO_TEST_CASE(parse_refuses_null_arguments)
{
  const std::string bytes = dcp::test::serialize(dcp::test::make_minimal_record().get());
  char *error = reinterpret_cast<char *>(1);
  BOOST_TEST(dcp_record_parse(bytes.data(), bytes.size(), nullptr, &error) == -EINVAL);
  BOOST_TEST(error == nullptr);
  DcpRecord *record = reinterpret_cast<DcpRecord *>(1);
  BOOST_TEST(dcp_record_parse(nullptr, 1, &record, nullptr) == -EINVAL);
  BOOST_TEST(dcp_record_parse(bytes.data(), bytes.size(), &record, nullptr) == 0);
  dcp_record_free(record);
}

// Issue 12, finding 7: counts were checked only after a full parse, so a
// record of millions of empty entries made the parser allocate an object
// for each (gigabytes for a 256 MiB file).  The entries are now counted on
// the wire first.
BOOST_AUTO_TEST_CASE(parse_budget_refuses_millions_of_empty_entries_before_parsing)
{
  std::string bytes = dcp::test::serialize(dcp::test::make_minimal_record().get());
  constexpr std::size_t kEntries = 8'000'000;
  bytes.reserve(bytes.size() + 2 * kEntries);
  for (std::size_t i = 0; i < kEntries; ++i)
    bytes.append("\x5a\x00", 2);  // field 11 (queued), empty
  struct rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  auto outcome = dcp::test::parse(bytes);
  getrusage(RUSAGE_SELF, &after);
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(outcome.error == "queued has 65537 entries, more than the 65536 allowed (or more)");
  const long grown_kib = after.ru_maxrss - before.ru_maxrss;
  BOOST_TEST_MESSAGE("peak RSS grew by " << grown_kib << " KiB refusing " << kEntries
                                         << " empty entries (" << bytes.size() << " bytes)");
  BOOST_TEST(grown_kib < 16 * 1024);
}
