// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/cli/journal_check: a restore whose images hold journal
// sockets is refused up front, saying so, when journald does not answer.
#define BOOST_TEST_MODULE cli_journal_check
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/unique_fd.hpp"
#include "cli/journal_check.hpp"

namespace fs = std::filesystem;
using namespace dbus_checkpoint;

namespace {

struct ImagesDir {
  fs::path path;
  ImagesDir()
  {
    std::string pattern = (fs::temp_directory_path() / "dcp-journal-check-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~ImagesDir()
  {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  void write(const std::string &name, const std::string &text) { std::ofstream(path / name) << text; }
};

base::UniqueFd bound_datagram_socket(const fs::path &path)
{
  base::UniqueFd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  BOOST_REQUIRE(bind(socket.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) == 0);
  return socket;
}

} // namespace

BOOST_AUTO_TEST_CASE(images_without_journal_sockets_need_no_journald)
{
  ImagesDir images;
  images.write("dbus-checkpoint-12.record", "x");
  BOOST_TEST(cli::check_journald_answers(images.path).ok());
}

BOOST_AUTO_TEST_CASE(a_journal_socket_that_answers_passes_one_that_does_not_is_named)
{
  ImagesDir images;
  base::UniqueFd dev_log = bound_datagram_socket(images.path / "dev-log");
  images.write("dbus-checkpoint-7.journal", "DATAGRAM=" + (images.path / "dev-log").string() + "\n");
  BOOST_TEST(cli::check_journald_answers(images.path).ok());

  dev_log.reset();  // journald gone: nobody listens any more
  auto refused = cli::check_journald_answers(images.path);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST_MESSAGE(refused.error().message);
  BOOST_TEST(refused.error().message.find("systemd-journald is not running") != std::string::npos);
  BOOST_TEST(refused.error().message.find((images.path / "dev-log").string()) != std::string::npos);
}
