// SPDX-License-Identifier: GPL-2.0-or-later
// Checkpoint ids: fresh ones are 32 lowercase hex digits and differ; only
// that form is accepted wherever an id comes in.
#define BOOST_TEST_MODULE record_checkpoint_id
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "record/checkpoint_id.hpp"
#include "record_fixtures.hpp"

namespace record = dbus_checkpoint::record;

BOOST_AUTO_TEST_CASE(new_id_is_32_lowercase_hex_digits)
{
  auto made = record::new_checkpoint_id();
  BOOST_REQUIRE(made.ok());
  const std::string id = made.value();
  BOOST_TEST(id.size() == record::kCheckpointIdLength);
  BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(record::is_valid_checkpoint_id(id));
}

BOOST_AUTO_TEST_CASE(new_ids_differ)
{
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = record::new_checkpoint_id();
    BOOST_REQUIRE(id.ok());
    ids.insert(id.value());
  }
  BOOST_TEST(ids.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(c_abi_writes_a_terminated_id)
{
  char id[DCP_CHECKPOINT_ID_LENGTH + 2];
  std::fill(std::begin(id), std::end(id), 'X');
  BOOST_REQUIRE_EQUAL(dcp_checkpoint_id_new(id), 0);
  BOOST_TEST(id[DCP_CHECKPOINT_ID_LENGTH] == '\0');
  BOOST_TEST(id[DCP_CHECKPOINT_ID_LENGTH + 1] == 'X');
  BOOST_TEST(record::is_valid_checkpoint_id(id));
  BOOST_TEST(DCP_CHECKPOINT_ID_LENGTH == record::kCheckpointIdLength);
}

BOOST_AUTO_TEST_CASE(c_abi_rejects_null_buffer)
{
  BOOST_TEST(dcp_checkpoint_id_new(nullptr) == -EINVAL);
}

BOOST_AUTO_TEST_CASE(other_forms_are_not_ids)
{
  const char *not_ids[] = {
      "",
      "0123456789abcdef0123456789abcde",   // 31 digits
      "0123456789abcdef0123456789abcdef0", // 33 digits
      "0123456789ABCDEF0123456789ABCDEF",  // upper case
      "0123456789abcdef0123456789abcdeg",  // not hex
      "0123456789abcdef 123456789abcdef",
      "../../../../../../../../etc/pass",  // 32 bytes, a path
  };
  for (const char *id : not_ids) {
    BOOST_TEST_CONTEXT("id \"" << id << "\"")
    {
      BOOST_TEST(!record::is_valid_checkpoint_id(id));
      BOOST_TEST(dcp_record_new(id, dcp::test::kUniqueName) == nullptr);
    }
  }
}

BOOST_AUTO_TEST_CASE(record_keeps_its_id)
{
  dcp::test::RecordPtr r(dcp_record_new(dcp::test::kCheckpointId, dcp::test::kUniqueName));
  BOOST_REQUIRE(r);
  BOOST_TEST(dcp_record_get_checkpoint_id(r.get()) == std::string(dcp::test::kCheckpointId));
}
