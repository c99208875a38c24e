// SPDX-License-Identifier: GPL-2.0-or-later
#include "record_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <system_error>

namespace dcp::test {

const FullRecordValues &full_record_values()
{
  static const FullRecordValues values{
      .names = {{"org.example.Service", 0x4, 0},
                {"org.example.Service.Alt", 0x1 | 0x2, 3},
                {"com.example._private-name", 0, 1}},
      .match_rules = {"type='signal',interface='org.example.Iface'",
                      "type='signal',sender='org.freedesktop.DBus',arg0='org.example.Other'",
                      "type='method_call',path_namespace='/org/example',arg1='caf\xc3\xa9'"},
      .replies = {{DCP_REPLY_OWED_BY_CONNECTION, ":1.7", 12, 24'500},
                  {DCP_REPLY_OWED_BY_CONNECTION, ":1.8", 4'000'000'000u, -1},
                  {DCP_REPLY_OWED_TO_CONNECTION, ":1.9", 77, 0}},
      .uid = 1000,
      .gids = {1000, 4, 27, 100},
      .pid = 31337,
      .security_label = "system_u:system_r:example_t:s0",
      .next_bus_serial = 4'294'967'000u,
      .unix_fd_passing = true,
      .queued = {{marshalled_message(2, 48), true},
                 {marshalled_message(4, 16), false},
                 {marshalled_message(1, 200), false}},
      .dropped_signals = 9'000'000'000ull,
      .unparsed_from_client = std::string("l\x01\0\x01partial", 11),
      .unread_by_client = std::string("\0\xff unread bytes", 15),
      .frozen_since_usec = 1'763'961'600'123'456,
  };
  return values;
}

std::string marshalled_message(std::uint8_t type, std::size_t size)
{
  std::string bytes(size, '\0');
  bytes[0] = 'l';
  bytes[1] = static_cast<char>(type);
  bytes[3] = 1;
  return bytes;
}

RecordPtr make_full_record()
{
  const FullRecordValues &values = full_record_values();
  RecordPtr record(dcp_record_new(kCheckpointId, kUniqueName));
  BOOST_REQUIRE(record);
  DcpRecord *r = record.get();
  for (const auto &name : values.names)
    BOOST_REQUIRE_EQUAL(
        dcp_record_add_name(r, name.name.c_str(), name.flags, name.queue_position), 0);
  for (const auto &rule : values.match_rules)
    BOOST_REQUIRE_EQUAL(dcp_record_add_match_rule(r, rule.c_str()), 0);
  for (const auto &reply : values.replies)
    BOOST_REQUIRE_EQUAL(dcp_record_add_pending_reply(r, reply.direction, reply.peer.c_str(),
                                                     reply.serial, reply.remaining_timeout_ms),
                        0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_credentials(r, values.uid, values.gids.data(),
                                                 values.gids.size(), values.pid,
                                                 values.security_label.c_str()),
                      0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_next_bus_serial(r, values.next_bus_serial), 0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_unix_fd_passing(r, values.unix_fd_passing), 0);
  for (const auto &message : values.queued)
    BOOST_REQUIRE_EQUAL(dcp_record_add_queued_message(r, message.bytes.data(),
                                                      message.bytes.size(), message.is_reply),
                        0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_dropped_signals(r, values.dropped_signals), 0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_unparsed_from_client(r, values.unparsed_from_client.data(),
                                                          values.unparsed_from_client.size()),
                      0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_unread_by_client(r, values.unread_by_client.data(),
                                                      values.unread_by_client.size()),
                      0);
  BOOST_REQUIRE_EQUAL(dcp_record_set_frozen_since_usec(r, values.frozen_since_usec), 0);
  return record;
}

RecordPtr make_minimal_record(const char *checkpoint_id)
{
  RecordPtr record(dcp_record_new(checkpoint_id, kUniqueName));
  BOOST_REQUIRE(record);
  BOOST_REQUIRE_EQUAL(dcp_record_set_credentials(record.get(), 0, nullptr, 0, 0, nullptr), 0);
  return record;
}

std::string serialize(const DcpRecord *record)
{
  void *bytes = nullptr;
  std::size_t n_bytes = 0;
  BOOST_REQUIRE_EQUAL(dcp_record_serialize(record, &bytes, &n_bytes), 0);
  std::unique_ptr<void, FreeDeleter> owned(bytes);
  return std::string(static_cast<const char *>(bytes), n_bytes);
}

dbus_checkpoint::record::FrozenConnection full_proto()
{
  dbus_checkpoint::record::FrozenConnection proto;
  BOOST_REQUIRE(proto.ParseFromString(serialize(make_full_record().get())));
  return proto;
}

std::string bytes_of(const dbus_checkpoint::record::FrozenConnection &proto)
{
  std::string bytes;
  BOOST_REQUIRE(proto.SerializeToString(&bytes));
  return bytes;
}

ParseOutcome parse(std::string_view bytes)
{
  DcpRecord *record = nullptr;
  char *error = nullptr;
  const int result = dcp_record_parse(bytes.data(), bytes.size(), &record, &error);
  MallocedText owned_error(error);
  return {result, RecordPtr(record), error != nullptr ? std::string(error) : std::string()};
}

TemporaryDirectory::TemporaryDirectory()
{
  const char *tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr ? tmpdir : "/tmp") + "/dcp-record-XXXXXX";
  BOOST_REQUIRE_MESSAGE(::mkdtemp(pattern.data()) != nullptr,
                        "mkdtemp: " << std::generic_category().message(errno));
  path_ = pattern;
}

TemporaryDirectory::~TemporaryDirectory()
{
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

} // namespace dcp::test
