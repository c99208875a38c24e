// SPDX-License-Identifier: GPL-2.0-or-later
// base/unique_fd.hpp: an fd (a DIR stream) is closed exactly once, when its
// owner goes or is given another.
#define BOOST_TEST_MODULE base_unique_fd
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "base/unique_fd.hpp"

using dbus_checkpoint::base::UniqueDir;
using dbus_checkpoint::base::UniqueFd;

namespace {

bool is_open(int fd)
{
  return ::fcntl(fd, F_GETFD) >= 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(closes_when_it_goes_and_when_reset)
{
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    BOOST_REQUIRE(fd);
    raw = fd.get();
    BOOST_TEST(is_open(raw));
  }
  BOOST_TEST(!is_open(raw), "closed at the end of its scope");

  UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  raw = fd.get();
  fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  BOOST_TEST(!is_open(raw), "reset closes the old fd");
  BOOST_TEST(is_open(fd.get()));
  BOOST_TEST(!UniqueFd(), "an empty one is false");
}

BOOST_AUTO_TEST_CASE(moves_and_releases_hand_over_ownership)
{
  UniqueFd first(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = first.get();
  UniqueFd second(std::move(first));
  BOOST_TEST(!first);
  BOOST_TEST(second.get() == raw);
  UniqueFd third;
  third = std::move(second);
  BOOST_TEST(is_open(raw));
  const int released = third.release();
  BOOST_TEST(!third);
  BOOST_TEST(is_open(released), "release does not close");
  BOOST_TEST(::close(released) == 0);

  UniqueFd closing(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  BOOST_TEST(!closing.close(), "close() reports success");
  BOOST_TEST(!closing);
}

BOOST_AUTO_TEST_CASE(dir_streams_close_too)
{
  UniqueDir dir(::opendir("/"));
  BOOST_REQUIRE(dir);
  const int raw = ::dirfd(dir.get());
  dir.reset();
  BOOST_TEST(!is_open(raw));
}
