// SPDX-License-Identifier: GPL-2.0-or-later
// base/result.hpp: the one result type at the modules' edges.
#define BOOST_TEST_MODULE base_result
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <memory>
#include <string>

#include "base/result.hpp"

namespace base = dbus_checkpoint::base;
using base::Error;
using base::ErrorKind;
using base::Result;
using base::Status;

namespace {

Result<int> parse_digit(char c)
{
  if (c < '0' || c > '9')
    return base::failure(EINVAL, std::string("not a digit: ") + c);
  return c - '0';
}

// What callers at a module's edge write: pass the error on, unchanged.
Result<int> sum_of_digits(const std::string &text)
{
  int sum = 0;
  for (char c : text) {
    auto digit = parse_digit(c);
    if (!digit)
      return digit.error();
    sum += digit.value();
  }
  return sum;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_result_holds_a_value_or_an_error)
{
  auto sum = sum_of_digits("123");
  BOOST_REQUIRE(sum.ok());
  BOOST_TEST(sum.value() == 6);

  auto bad = sum_of_digits("1x3");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().message == "not a digit: x");
  BOOST_TEST(bad.error().errno_value == EINVAL);
  BOOST_TEST(!bad.error().fatal());
  BOOST_CHECK_THROW((void)bad.value(), std::bad_variant_access);
}

BOOST_AUTO_TEST_CASE(a_value_that_only_moves_is_moved_out)
{
  Result<std::unique_ptr<int>> held(std::make_unique<int>(7));
  std::unique_ptr<int> taken = std::move(held).value();
  BOOST_TEST(*taken == 7);
}

BOOST_AUTO_TEST_CASE(a_status_is_success_by_default)
{
  Status done;
  BOOST_TEST(done.ok());
  Status failed = base::failure(ENOENT, "no such thing");
  BOOST_TEST(!failed.ok());
  BOOST_TEST(failed.error().describe() == "no such thing");
  BOOST_TEST(failed.error().negative_errno() == -ENOENT);
}

BOOST_AUTO_TEST_CASE(a_bus_error_is_described_with_its_name)
{
  Error refused = base::bus_error("org.freedesktop.DBus.Error.InvalidArgs", "No frozen connection");
  BOOST_TEST(refused.describe() == "org.freedesktop.DBus.Error.InvalidArgs: No frozen connection");
  BOOST_TEST((refused.kind == ErrorKind::Api));
  // No errno behind it: a C caller still gets a negative one.
  BOOST_TEST(refused.negative_errno() == -EIO);
}

BOOST_AUTO_TEST_CASE(errno_errors_say_what_and_why)
{
  Error error = base::errno_error("open /x", ENOENT);
  BOOST_TEST(error.message == "open /x: No such file or directory");
  BOOST_TEST(error.errno_value == ENOENT);
  BOOST_TEST((error.kind == ErrorKind::Api));

  errno = EACCES;
  Error from_errno = base::errno_error("connect");
  BOOST_TEST(from_errno.message == "connect: Permission denied");
  BOOST_TEST(from_errno.errno_value == EACCES);
}

BOOST_AUTO_TEST_CASE(out_of_memory_and_broken_invariants_are_fatal)
{
  BOOST_TEST(base::errno_error("sd_bus_new", ENOMEM).fatal());
  BOOST_TEST((base::failure(ENOMEM, "cannot build the call").kind == ErrorKind::Fatal));
  Error bug = base::fatal_error("run_program: no program");
  BOOST_TEST(bug.fatal());
  BOOST_TEST(bug.describe() == "run_program: no program");
}

BOOST_AUTO_TEST_CASE(aggregate_errors_are_api_errors)
{
  // Error{name, message}: what most callers write for a refusal of theirs.
  Error refusal{"", "pid 1 is init"};
  BOOST_TEST((refusal.kind == ErrorKind::Api));
  BOOST_TEST(refusal.errno_value == 0);
  BOOST_TEST(refusal.describe() == "pid 1 is init");
}

BOOST_AUTO_TEST_CASE(error_codes_become_statuses)
{
  BOOST_TEST(base::status_of(std::error_code()).ok());
  Status full = base::status_of(std::make_error_code(std::errc::no_space_on_device));
  BOOST_REQUIRE(!full.ok());
  BOOST_TEST(full.error().errno_value == ENOSPC);
  BOOST_TEST(full.error().message == "No space left on device");
}
