// SPDX-License-Identifier: GPL-2.0-or-later
// dcp_record_parse refuses every kind of bad record with -EINVAL and a
// sentence naming the field at fault; it never crashes on any bytes.
#define BOOST_TEST_MODULE record_validate
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "record/validate.hpp"
#include "record_fixtures.hpp"

namespace record = dbus_checkpoint::record;
namespace v1 = dbus_checkpoint::v1;
using record::FrozenConnection;

namespace {

// One kind of bad record: how to make its bytes, and what the error text
// must mention.
struct BadRecord {
  std::string kind;
  std::function<std::string()> make_bytes;
  std::string expected_text;
};

std::ostream &operator<<(std::ostream &out, const BadRecord &bad) { return out << bad.kind; }

// The full record with one change.
std::function<std::string()> full_record_with(std::function<void(FrozenConnection &)> change)
{
  return [change] {
    FrozenConnection proto = dcp::test::full_proto();
    change(proto);
    return dcp::test::bytes_of(proto);
  };
}

std::function<std::string()> full_record_with_owned_name(int index, std::string name)
{
  return full_record_with([=](auto &r) { r.mutable_names(index)->set_name(name); });
}

// The full record with one byte of one queued message's header changed.
std::function<std::string()> full_record_with_header_byte(int message, std::size_t offset,
                                                          char value)
{
  return full_record_with(
      [=](auto &r) { (*r.mutable_queued(message)->mutable_marshalled())[offset] = value; });
}

// Field 99 (varint 1): a field no version of the schema has had.
const std::string kUnknownField = "\x98\x06\x01";

std::string length_delimited(std::uint8_t field_number, const std::string &content)
{
  std::string out(1, static_cast<char>((field_number << 3) | 2));
  for (std::size_t n = content.size(); ; n >>= 7) {
    const auto low_bits = static_cast<char>(n & 0x7f);
    if (n < 0x80) {
      out += low_bits;
      break;
    }
    out += static_cast<char>(low_bits | 0x80);
  }
  return out + content;
}

// The full record plus one more repeated-message entry (or, for a singular
// message field, content merged into it) that carries an unknown field.
std::function<std::string()> full_record_plus_nested(std::uint8_t field_number,
                                                     std::string valid_content)
{
  return [=] {
    return dcp::test::bytes_of(dcp::test::full_proto()) +
           length_delimited(field_number, valid_content + kUnknownField);
  };
}

template <typename Message>
std::string message_bytes(std::function<void(Message &)> fill)
{
  Message message;
  fill(message);
  return message.SerializeAsString();
}

std::string too_big(std::size_t limit) { return std::string(limit + 1, 'x'); }

std::vector<BadRecord> bad_records()
{
  return {
      {"format_version 0", full_record_with([](auto &r) { r.set_format_version(0); }),
       "format_version is 0"},
      {"format_version from the future", full_record_with([](auto &r) { r.set_format_version(2); }),
       "format_version is 2"},
      {"unknown top-level field",
       [] { return dcp::test::bytes_of(dcp::test::full_proto()) + kUnknownField; },
       "fields this version does not know (in the top-level message)"},
      {"unknown field in an owned name",
       full_record_plus_nested(4, message_bytes<v1::OwnedName>(
                                      [](auto &n) { n.set_name("org.example.Extra"); })),
       "fields this version does not know (in names[3])"},
      {"unknown field in a pending reply",
       full_record_plus_nested(7, message_bytes<v1::PendingReply>([](auto &p) {
                                 p.set_peer(":1.1");
                                 p.set_serial(1);
                               })),
       "fields this version does not know (in replies_owed_to_connection[1])"},
      {"unknown field in credentials", full_record_plus_nested(9, ""),
       "fields this version does not know (in credentials)"},
      {"unknown field in a queued message",
       full_record_plus_nested(11, message_bytes<v1::QueuedMessage>([](auto &q) {
                                  q.set_marshalled(dcp::test::marshalled_message(1));
                                })),
       "fields this version does not know (in queued[3])"},
      {"checkpoint_id in upper case",
       full_record_with([](auto &r) { r.set_checkpoint_id("0123456789ABCDEF0123456789ABCDEF"); }),
       "checkpoint_id \"0123456789ABCDEF0123456789ABCDEF\""},
      {"checkpoint_id too short", full_record_with([](auto &r) { r.set_checkpoint_id("abc"); }),
       "checkpoint_id \"abc\" is not 32 lowercase hex digits"},
      {"checkpoint_id missing", full_record_with([](auto &r) { r.clear_checkpoint_id(); }),
       "checkpoint_id \"\""},
      {"unique_name without colon",
       full_record_with([](auto &r) { r.set_unique_name("org.example.Name"); }),
       "unique_name \"org.example.Name\" is not a valid D-Bus unique name"},
      {"unique_name with one element", full_record_with([](auto &r) { r.set_unique_name(":1"); }),
       "unique_name \":1\""},
      {"unique_name longer than 255 bytes",
       full_record_with([](auto &r) { r.set_unique_name(":1." + std::string(253, '2')); }),
       "unique_name \":1.222"},
      {"owned name with element starting with a digit",
       full_record_with_owned_name(1, "org.3com.Service"),
       "names[1].name \"org.3com.Service\" is not a valid well-known bus name"},
      {"owned name with one element",
       full_record_with_owned_name(2, "Service"),
       "names[2].name \"Service\""},
      {"owned name with an empty element",
       full_record_with_owned_name(0, "org..Service"),
       "names[0].name \"org..Service\""},
      {"owned name longer than 255 bytes",
       full_record_with_owned_name(0, "a." + std::string(254, 'b')),
       "names[0].name \"a.bbbb"},
      {"owned name org.freedesktop.DBus",
       full_record_with_owned_name(1, "org.freedesktop.DBus"),
       "names[1].name is \"org.freedesktop.DBus\", which only the bus itself may own"},
      {"owned name that is a unique name",
       full_record_with_owned_name(2, ":1.99"),
       "names[2].name \":1.99\" is a unique name"},
      {"owned name listed twice",
       full_record_with([](auto &r) { r.mutable_names(2)->set_name(r.names(0).name()); }),
       "names[2].name \"org.example.Service\" is listed more than once"},
      {"owned name with unknown flags",
       full_record_with([](auto &r) { r.mutable_names(1)->set_flags(0x10); }),
       "names[1].flags 0x10"},
      {"too many owned names",
       full_record_with([](auto &r) {
         for (std::size_t i = 0; i < record::kMaxOwnedNames; ++i)
           r.add_names()->set_name("org.example.n" + std::to_string(i));
       }),
       "names has 65537 entries, more than the 65536 allowed (or more)"},
      {"empty match rule", full_record_with([](auto &r) { r.set_match_rules(1, ""); }),
       "match_rules[1] is empty"},
      {"match rule longer than 1024 bytes",
       full_record_with([](auto &r) { r.set_match_rules(2, std::string(1025, 'a')); }),
       "match_rules[2] is 1025 bytes long, more than the 1024 allowed"},
      {"match rule with a NUL byte",
       full_record_with([](auto &r) { r.set_match_rules(0, std::string("type='sig\0nal'", 14)); }),
       "match_rules[0] \"type='sig\\x00nal'\" contains a NUL byte"},
      {"match rule that is not UTF-8",
       full_record_with([](auto &r) { r.set_match_rules(0, "arg0='\xff'"); }),
       "not a valid FrozenConnection protobuf"},
      {"too many match rules",
       full_record_with([](auto &r) {
         for (std::size_t i = 0; i < record::kMaxMatchRules; ++i)
           r.add_match_rules("type='signal'");
       }),
       "match_rules has 65537 entries"},
      {"pending reply with a well-known peer",
       full_record_with(
           [](auto &r) { r.mutable_replies_owed_by_connection(1)->set_peer("org.example.Peer"); }),
       "replies_owed_by_connection[1].peer \"org.example.Peer\" is not a valid D-Bus unique name"},
      {"pending reply with serial 0",
       full_record_with([](auto &r) { r.mutable_replies_owed_to_connection(0)->set_serial(0); }),
       "replies_owed_to_connection[0].serial is 0"},
      {"pending reply with timeout below -1",
       full_record_with(
           [](auto &r) { r.mutable_replies_owed_by_connection(0)->set_remaining_timeout_ms(-2); }),
       "replies_owed_by_connection[0].remaining_timeout_ms is -2"},
      {"too many pending replies",
       full_record_with([](auto &r) {
         for (std::size_t i = 0; i < record::kMaxPendingReplies; ++i) {
           auto *reply = r.add_replies_owed_to_connection();
           reply->set_peer(":1.1");
           reply->set_serial(1);
         }
       }),
       "replies_owed_to_connection has 65537 entries"},
      {"credentials missing", full_record_with([](auto &r) { r.clear_credentials(); }),
       "credentials are missing"},
      {"too many gids",
       full_record_with([](auto &r) {
         r.mutable_credentials()->mutable_gids()->Resize(record::kMaxGids + 1, 0);
       }),
       "credentials.gids has 65537 entries"},
      {"security label longer than 4096 bytes",
       full_record_with([](auto &r) {
         r.mutable_credentials()->set_security_label(too_big(record::kMaxSecurityLabelBytes));
       }),
       "credentials.security_label is 4097 bytes long"},
      {"security label with a NUL byte",
       full_record_with(
           [](auto &r) { r.mutable_credentials()->set_security_label(std::string("a\0b", 3)); }),
       "credentials.security_label \"a\\x00b\" contains a NUL byte"},
      {"queued message shorter than a header",
       full_record_with([](auto &r) {
         r.mutable_queued(1)->set_marshalled(dcp::test::marshalled_message(1, 15));
       }),
       "queued[1].marshalled is 15 bytes long, shorter than the 16-byte minimum"},
      {"queued message longer than 128 MiB",
       full_record_with([](auto &r) {
         r.mutable_queued(0)->set_marshalled(dcp::test::marshalled_message(
             2, record::kMaxMessageBytes + 1));
       }),
       "queued[0].marshalled is 134217729 bytes long"},
      {"queued message with a bad endianness mark",
       full_record_with_header_byte(2, 0, 'x'),
       "queued[2].marshalled starts with byte \"x\""},
      {"queued message of type 0",
       full_record_with_header_byte(0, 1, 0),
       "queued[0].marshalled has message type 0"},
      {"queued message of type 5",
       full_record_with_header_byte(0, 1, 5),
       "queued[0].marshalled has message type 5"},
      {"queued message of protocol version 2",
       full_record_with_header_byte(1, 3, 2),
       "queued[1].marshalled has protocol version 2"},
      {"too many queued messages",
       full_record_with([](auto &r) {
         const std::string message = dcp::test::marshalled_message(4, 16);
         for (std::size_t i = 0; i < record::kMaxQueuedMessages; ++i)
           r.add_queued()->set_marshalled(message);
       }),
       "queued has 65537 entries, more than the 65536 allowed (or more)"},
      {"unparsed bytes over 128 MiB",
       full_record_with(
           [](auto &r) { r.set_unparsed_from_client(too_big(record::kMaxStreamBytes)); }),
       "unparsed_from_client is 134217729 bytes long"},
      {"unread bytes over 128 MiB",
       full_record_with([](auto &r) { r.set_unread_by_client(too_big(record::kMaxStreamBytes)); }),
       "unread_by_client is 134217729 bytes long"},
      {"frozen_since_usec negative",
       full_record_with([](auto &r) { r.set_frozen_since_usec(-5); }),
       "frozen_since_usec is -5"},
      {"boot_id that is not a UUID",
       full_record_with([](auto &r) { r.set_boot_id("../../etc/passwd"); }),
       "boot_id \"../../etc/passwd\" is not a boot id"},
  };
}

} // namespace

BOOST_DATA_TEST_CASE(bad_record_is_refused_with_a_clear_text,
                     boost::unit_test::data::make(bad_records()), bad)
{
  const auto outcome = dcp::test::parse(bad.make_bytes());
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(!outcome.record);
  BOOST_TEST_MESSAGE(bad.kind << ": " << outcome.error);
  BOOST_TEST(outcome.error.find(bad.expected_text) != std::string::npos,
             "error text \"" << outcome.error << "\" should contain \"" << bad.expected_text
                             << "\"");
}

BOOST_AUTO_TEST_CASE(full_record_is_valid)
{
  BOOST_TEST(record::validate(dcp::test::full_proto()).ok());
}

BOOST_AUTO_TEST_CASE(garbage_bytes_are_not_a_record)
{
  const std::string garbage = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0f garbage";
  const auto outcome = dcp::test::parse(garbage);
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(outcome.error.find("record is not a valid FrozenConnection protobuf") == 0u);
}

BOOST_AUTO_TEST_CASE(empty_input_is_a_record_of_defaults_without_a_version)
{
  // Zero bytes are a valid protobuf with every field at its default; the
  // version check is what refuses them.
  const auto outcome = dcp::test::parse("");
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(outcome.error == "format_version is 0, but this version reads only format 1");

  DcpRecord *r = reinterpret_cast<DcpRecord *>(1);
  BOOST_TEST(dcp_record_parse(nullptr, 0, &r, nullptr) == -EINVAL);
  BOOST_TEST(r == nullptr);
}

BOOST_AUTO_TEST_CASE(oversize_input_is_refused_before_parsing)
{
  // A valid record followed by padding in an unknown field would parse;
  // the size check must refuse it without looking inside.
  const std::string oversize(record::kMaxRecordBytes + 1, '\0');
  const auto outcome = dcp::test::parse(oversize);
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(outcome.error == "record is 268435457 bytes long, more than the 268435456 allowed");
}

BOOST_AUTO_TEST_CASE(truncated_record_is_refused)
{
  const std::string bytes = dcp::test::serialize(dcp::test::make_full_record().get());
  for (std::size_t length : {bytes.size() - 1, bytes.size() / 2, std::size_t{3}}) {
    BOOST_TEST_CONTEXT("first " << length << " of " << bytes.size() << " bytes")
    {
      const auto outcome = dcp::test::parse(std::string_view(bytes).substr(0, length));
      BOOST_TEST(outcome.result == -EINVAL);
      BOOST_TEST(!outcome.error.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(no_prefix_of_a_record_crashes_the_parser)
{
  const std::string bytes = dcp::test::serialize(dcp::test::make_full_record().get());
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const auto outcome = dcp::test::parse(std::string_view(bytes).substr(0, length));
    BOOST_TEST_REQUIRE((outcome.result == 0 || outcome.result == -EINVAL));
  }
}

BOOST_AUTO_TEST_CASE(long_values_are_cut_in_error_texts)
{
  FrozenConnection proto = dcp::test::full_proto();
  proto.set_unique_name(":" + std::string(300, 'x'));
  const auto outcome = dcp::test::parse(dcp::test::bytes_of(proto));
  BOOST_TEST(outcome.result == -EINVAL);
  BOOST_TEST(outcome.error ==
             "unique_name \":" + std::string(record::kMaxQuotedValueBytes - 1, 'x') +
                 "\"... (301 bytes) is not a valid D-Bus unique name");
}

BOOST_AUTO_TEST_CASE(bus_name_grammar)
{
  BOOST_TEST(record::is_valid_unique_name(":1.0"));
  BOOST_TEST(record::is_valid_unique_name(":a-b.c_d.9"));
  BOOST_TEST(!record::is_valid_unique_name(":.1"));
  BOOST_TEST(!record::is_valid_unique_name(":1."));
  BOOST_TEST(!record::is_valid_unique_name(":1.2$"));
  BOOST_TEST(!record::is_valid_unique_name(""));
  BOOST_TEST(record::is_valid_well_known_name("org.example"));
  BOOST_TEST(record::is_valid_well_known_name("_1.-x"));
  BOOST_TEST(!record::is_valid_well_known_name("org.example."));
  BOOST_TEST(!record::is_valid_well_known_name(".org.example"));
  BOOST_TEST(!record::is_valid_well_known_name("org.9example"));
  BOOST_TEST(!record::is_valid_well_known_name("org.ex ample"));
  BOOST_TEST(record::is_valid_well_known_name("a." + std::string(253, 'b')));
  BOOST_TEST(!record::is_valid_well_known_name("a." + std::string(254, 'b')));
}

BOOST_AUTO_TEST_CASE(utf8_grammar)
{
  BOOST_TEST(record::is_valid_utf8(""));
  BOOST_TEST(record::is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  BOOST_TEST(record::is_valid_utf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  BOOST_TEST(!record::is_valid_utf8("caf\xc3"));            // cut short
  BOOST_TEST(!record::is_valid_utf8("\xc3("));              // bad continuation
  BOOST_TEST(!record::is_valid_utf8("\xe0\x80\xaf"));       // overlong
  BOOST_TEST(!record::is_valid_utf8("\xed\xbf\xbf"));       // surrogate
  BOOST_TEST(!record::is_valid_utf8("\xf4\x90\x80\x80"));   // above U+10FFFF
  BOOST_TEST(!record::is_valid_utf8("\xf8\x88\x80\x80\x80")); // 5-byte form
  BOOST_TEST(!record::is_valid_utf8("\x80"));
}
