// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/criu-plugin/journal_stream: a stdout stream to the journal is
// saved at dump from journald's record of it and reopened at restore with
// the same header.  Against a real listening unix socket that reads the
// stream as journald does (seven header lines, then the log text), with a
// streams/DEV:INO file written as journald writes it.
#define BOOST_TEST_MODULE criu_plugin_journal_stream
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "criu-plugin/image_files.hpp"
#include "criu-plugin/journal_stream.hpp"

namespace fs = std::filesystem;
using dbus_checkpoint::base::UniqueFd;
using namespace dbus_checkpoint::criu_plugin;

namespace {

// A private directory with a "journald": its stdout socket listening, its
// streams/ directory, and an images directory (0700) beside it.
struct FakeJournald {
  fs::path top;
  JournalPaths paths;
  UniqueFd listener;
  UniqueFd images;

  FakeJournald()
  {
    std::string pattern = (fs::temp_directory_path() / "dcp-journal-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    top = pattern;
    paths.stdout_socket = (top / "stdout").string();
    paths.streams_dir = (top / "streams").string();
    fs::create_directory(paths.streams_dir);
    fs::create_directory(top / "images");
    fs::permissions(top / "images", fs::perms::owner_all, fs::perm_options::replace);
    images = UniqueFd(open((top / "images").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    BOOST_REQUIRE(images);
    listen_again();
  }
  ~FakeJournald()
  {
    std::error_code ignored;
    fs::remove_all(top, ignored);
  }

  void listen_again()
  {
    fs::remove(paths.stdout_socket);
    listener = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(listener);
    struct sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, paths.stdout_socket.c_str(), sizeof address.sun_path - 1);
    BOOST_REQUIRE(bind(listener.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) == 0);
    BOOST_REQUIRE(listen(listener.get(), 8) == 0);
  }

  void stop_listening()
  {
    listener.reset();
    fs::remove(paths.stdout_socket);
  }

  UniqueFd accept_stream()
  {
    struct pollfd ready{listener.get(), POLLIN, 0};
    BOOST_REQUIRE_MESSAGE(poll(&ready, 1, 5000) == 1, "no connection to the fake journald");
    UniqueFd stream(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    BOOST_REQUIRE(stream);
    return stream;
  }

  // What journald writes once a stream's header is read (journald's
  // format: values C-escaped), named by its end's st_dev:st_ino.
  void write_stream_file(int journald_end, const std::string &body)
  {
    struct stat status{};
    BOOST_REQUIRE(fstat(journald_end, &status) == 0);
    std::ofstream file(paths.streams_dir + "/" + std::to_string(static_cast<unsigned long>(status.st_dev)) +
                       ":" + std::to_string(static_cast<unsigned long>(status.st_ino)));
    file << "# This is private data. Do not parse\n" << body;
  }
};

// Reads from a stream until `lines` newlines arrived (or EOF / 5 s).
std::vector<std::string> read_lines(int fd, std::size_t lines)
{
  std::string text;
  while (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) < lines) {
    struct pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 5000) != 1)
      break;
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
      break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  std::vector<std::string> out;
  for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    out.push_back(text.substr(start, end - start));
  return out;
}

std::uint32_t inode_of(int fd)
{
  struct stat status{};
  BOOST_REQUIRE(fstat(fd, &status) == 0);
  return static_cast<std::uint32_t>(status.st_ino);
}

// A service's stream as systemd opens it: connected, header sent.
struct ServiceStream {
  UniqueFd service_end;
  UniqueFd journald_end;
};

ServiceStream open_service_stream(FakeJournald &journald, const std::string &header)
{
  ServiceStream stream;
  BOOST_REQUIRE(dbus_checkpoint::raw_bus::connect_unix_stream(journald.paths.stdout_socket, stream.service_end));
  BOOST_REQUIRE(dbus_checkpoint::raw_bus::send_all(stream.service_end.get(), header));
  stream.journald_end = journald.accept_stream();
  BOOST_REQUIRE_EQUAL(read_lines(stream.journald_end.get(), 7).size(), 7u);
  return stream;
}

const std::string kAvahiHeader = "avahi-daemon\navahi-daemon.service\n6\n1\n0\n0\n0\n";

// This thread in a new network namespace (as criu is when dbus-checkpoint
// runs it in a sandboxed service's), back in its own at the end.  Root only.
struct InNewNetworkNamespace {
  UniqueFd own = UniqueFd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));

  InNewNetworkNamespace()
  {
    BOOST_REQUIRE(own);
    BOOST_REQUIRE_MESSAGE(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): " << std::strerror(errno)
                                                                                << " (the test runs as root)");
  }
  ~InNewNetworkNamespace() { BOOST_CHECK(setns(own.get(), CLONE_NEWNET) == 0); }
};

} // namespace

BOOST_AUTO_TEST_CASE(journald_stream_file_is_parsed_with_its_escapes)
{
  JournalStream stream;
  BOOST_REQUIRE(parse_journald_stream_file("# This is private data. Do not parse\nPRIORITY=30\n"
                                           "LEVEL_PREFIX=0\nFORWARD_TO_SYSLOG=1\nFORWARD_TO_KMSG=0\n"
                                           "FORWARD_TO_CONSOLE=1\nSTREAM_ID=0123456789abcdef\n"
                                           "IDENTIFIER=my\\x20daemon\\\\x\nUNIT=foo@bar.service\n",
                                           stream));
  BOOST_TEST(stream.priority == 30);
  BOOST_TEST(!stream.level_prefix);
  BOOST_TEST(stream.forward_to_syslog);
  BOOST_TEST(!stream.forward_to_kmsg);
  BOOST_TEST(stream.forward_to_console);
  BOOST_TEST(stream.identifier == "my daemon\\x");
  BOOST_TEST(stream.unit_id == "foo@bar.service");
  BOOST_TEST(stream_header(stream) == "my daemon\\x\nfoo@bar.service\n30\n0\n1\n0\n1\n");

  // Our image file round-trips it.
  std::string image;
  BOOST_REQUIRE(format_stream_image(stream, image));
  JournalStream again;
  BOOST_REQUIRE(parse_stream_image(image, again));
  BOOST_TEST((again == stream));
}

BOOST_AUTO_TEST_CASE(bad_stream_files_are_refused)
{
  JournalStream stream;
  BOOST_TEST(!parse_journald_stream_file("LEVEL_PREFIX=1\n", stream));  // no priority
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=1000\n", stream));
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=6\nLEVEL_PREFIX=2\n", stream));
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=6\nIDENTIFIER=a\\q\n", stream));
  // a newline in a header value would shift journald's header lines
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=6\nIDENTIFIER=a\\nb\n", stream));
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=6\nIDENTIFIER\n", stream));
  BOOST_TEST(!parse_journald_stream_file("PRIORITY=6\nUNIT=" + std::string(300, 'u') + "\n", stream));
}

BOOST_AUTO_TEST_CASE(a_stream_is_saved_and_reopened_with_the_same_header)
{
  FakeJournald journald;
  ServiceStream stream = open_service_stream(journald, kAvahiHeader);
  journald.write_stream_file(stream.journald_end.get(),
                             "PRIORITY=6\nLEVEL_PREFIX=1\nFORWARD_TO_SYSLOG=0\nFORWARD_TO_KMSG=0\n"
                             "FORWARD_TO_CONSOLE=0\nSTREAM_ID=5f1b\nIDENTIFIER=avahi-daemon\n"
                             "UNIT=avahi-daemon.service\n");
  const std::uint32_t inode = inode_of(stream.service_end.get());

  BOOST_TEST(is_journal_stream(stream.service_end.get(), journald.paths));
  BOOST_REQUIRE_EQUAL(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths), 0);
  struct stat image{};
  BOOST_REQUIRE(fstatat(journald.images.get(), journal_file_name(inode).c_str(), &image, AT_SYMLINK_NOFOLLOW) == 0);
  BOOST_TEST((image.st_mode & 0777) == 0600u);

  // CRIU kills the dumped task: its end closes, journald sees EOF.
  stream.service_end.reset();
  BOOST_TEST(read_lines(stream.journald_end.get(), 1).empty());

  int restored = restore_journal_socket(inode, journald.images.get(), journald.paths);
  BOOST_REQUIRE_GE(restored, 0);
  UniqueFd restored_end(restored);
  UniqueFd new_journald_end = journald.accept_stream();
  const std::vector<std::string> header = read_lines(new_journald_end.get(), 7);
  BOOST_TEST(header == (std::vector<std::string>{"avahi-daemon", "avahi-daemon.service", "6", "1", "0", "0", "0"}),
             boost::test_tools::per_element());

  // The service's next line arrives as log text on the new stream.
  const std::string line = "<5>Server startup complete (after restore)\n";
  BOOST_REQUIRE_EQUAL(write(restored_end.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
  BOOST_TEST(read_lines(new_journald_end.get(), 1) == std::vector<std::string>{line.substr(0, line.size() - 1)},
             boost::test_tools::per_element());
  // Nothing comes back from journald: its read side is shut, as systemd's is.
  char byte;
  BOOST_TEST(read(restored_end.get(), &byte, 1) == 0);
}

BOOST_AUTO_TEST_CASE(restore_without_journald_fails_clearly)
{
  FakeJournald journald;
  ServiceStream stream = open_service_stream(journald, kAvahiHeader);
  journald.write_stream_file(stream.journald_end.get(),
                             "PRIORITY=6\nLEVEL_PREFIX=1\nFORWARD_TO_SYSLOG=0\nFORWARD_TO_KMSG=0\n"
                             "FORWARD_TO_CONSOLE=0\nIDENTIFIER=avahi-daemon\nUNIT=avahi-daemon.service\n");
  const std::uint32_t inode = inode_of(stream.service_end.get());
  BOOST_REQUIRE_EQUAL(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths), 0);
  journald.stop_listening();

  UniqueFd socket;
  JournalStream saved;
  dbus_checkpoint::base::Status s = reopen_journal_stream(inode, journald.images.get(), journald.paths, socket, saved);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST_MESSAGE(s.error().message);
  BOOST_TEST(s.error().message.find("systemd-journald is not running") != std::string::npos);
  BOOST_TEST(s.error().message.find("avahi-daemon.service") != std::string::npos);
  BOOST_TEST(restore_journal_socket(inode, journald.images.get(), journald.paths) == -ENOENT);
}

BOOST_AUTO_TEST_CASE(other_sockets_are_not_claimed)
{
  FakeJournald journald;
  // a socketpair has no peer name
  int pair[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
  UniqueFd a(pair[0]), b(pair[1]);
  BOOST_TEST(dump_journal_socket(a.get(), inode_of(a.get()), journald.images.get(), journald.paths) == -ENOTSUP);
  // nothing in the images for this inode: another plugin's socket
  BOOST_TEST(restore_journal_socket(inode_of(a.get()), journald.images.get(), journald.paths) == -ENOTSUP);
}

BOOST_AUTO_TEST_CASE(a_stream_journald_has_no_record_of_fails_the_dump)
{
  FakeJournald journald;
  ServiceStream stream = open_service_stream(journald, kAvahiHeader);  // no streams file written
  const std::uint32_t inode = inode_of(stream.service_end.get());
  BOOST_TEST(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths) == -ENOENT);
}

BOOST_AUTO_TEST_CASE(an_images_directory_others_can_write_is_refused)
{
  FakeJournald journald;
  ServiceStream stream = open_service_stream(journald, kAvahiHeader);
  journald.write_stream_file(stream.journald_end.get(), "PRIORITY=6\nIDENTIFIER=x\nUNIT=x.service\n");
  BOOST_REQUIRE(fchmod(journald.images.get(), 0777) == 0);
  const std::uint32_t inode = inode_of(stream.service_end.get());
  BOOST_TEST(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths) == -EPERM);
}

BOOST_AUTO_TEST_CASE(a_syslog_datagram_socket_is_reconnected)
{
  FakeJournald journald;
  journald.paths.syslog_socket = (journald.top / "dev-log").string();
  UniqueFd dev_log(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, journald.paths.syslog_socket.c_str(), sizeof address.sun_path - 1);
  BOOST_REQUIRE(bind(dev_log.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) == 0);
  // what syslog(3) keeps open: a datagram socket connected to /dev/log
  UniqueFd service(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  BOOST_REQUIRE(connect(service.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) == 0);
  const std::uint32_t inode = inode_of(service.get());
  BOOST_TEST(journal_datagram_peer(service.get(), journald.paths) == journald.paths.syslog_socket);
  BOOST_REQUIRE_EQUAL(dump_journal_socket(service.get(), inode, journald.images.get(), journald.paths), 0);
  service.reset();

  int restored = restore_journal_socket(inode, journald.images.get(), journald.paths);
  BOOST_REQUIRE_GE(restored, 0);
  UniqueFd restored_socket(restored);
  const std::string line = "<30>avahi-daemon[42]: Got SIGHUP, reloading.";
  BOOST_REQUIRE_EQUAL(send(restored_socket.get(), line.data(), line.size(), 0), static_cast<ssize_t>(line.size()));
  char received[256];
  ssize_t n = recv(dev_log.get(), received, sizeof received, MSG_DONTWAIT);
  BOOST_TEST(std::string(received, n > 0 ? static_cast<std::size_t>(n) : 0) == line);

  // not to any path an image file names
  BOOST_REQUIRE(unlinkat(journald.images.get(), journal_file_name(inode).c_str(), 0) == 0);
  BOOST_REQUIRE(dbus_checkpoint::criu_plugin::write_image_file(journald.images.get(), journal_file_name(inode),
                                                               "DATAGRAM=/run/dbus/system_bus_socket\n"));
  BOOST_TEST(restore_journal_socket(inode, journald.images.get(), journald.paths) == -EPERM);
}

// systemd opens a service's stream, then moves the service into a network
// namespace of its own (PrivateNetwork=); criu dumps it from inside that
// namespace, where sock_diag does not list the stream: journald's end is
// still found, by sock_diag in the stream's own namespace.
BOOST_AUTO_TEST_CASE(a_stream_of_another_network_namespace_is_saved_and_reopened)
{
  FakeJournald journald;
  const std::string header = "accounts-daemon\naccounts-daemon.service\n6\n1\n0\n0\n0\n";
  ServiceStream stream = open_service_stream(journald, header);
  journald.write_stream_file(stream.journald_end.get(),
                             "PRIORITY=6\nLEVEL_PREFIX=1\nFORWARD_TO_SYSLOG=0\nFORWARD_TO_KMSG=0\n"
                             "FORWARD_TO_CONSOLE=0\nIDENTIFIER=accounts-daemon\nUNIT=accounts-daemon.service\n");
  const std::uint32_t inode = inode_of(stream.service_end.get());
  {
    InNewNetworkNamespace sandbox;
    BOOST_REQUIRE_EQUAL(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths),
                        0);
    stream.service_end.reset();
    // restored in the sandbox too: a path socket connects across namespaces
    int restored = restore_journal_socket(inode, journald.images.get(), journald.paths);
    BOOST_REQUIRE_GE(restored, 0);
    UniqueFd restored_end(restored);
    UniqueFd new_journald_end = journald.accept_stream();
    BOOST_TEST(read_lines(new_journald_end.get(), 7) ==
                   (std::vector<std::string>{"accounts-daemon", "accounts-daemon.service", "6", "1", "0", "0", "0"}),
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(a_stream_journald_closed_is_restored_closed)
{
  // journald stopped (not restarted) lets go of its streams: the service's
  // stdout has no peer any more, and journald no record of it
  FakeJournald journald;
  ServiceStream stream = open_service_stream(journald, kAvahiHeader);
  stream.journald_end.reset();
  const std::uint32_t inode = inode_of(stream.service_end.get());
  BOOST_REQUIRE_EQUAL(dump_journal_socket(stream.service_end.get(), inode, journald.images.get(), journald.paths), 0);
  stream.service_end.reset();

  int restored = restore_journal_socket(inode, journald.images.get(), journald.paths);
  BOOST_REQUIRE_GE(restored, 0);
  UniqueFd restored_end(restored);
  // as before the dump: nothing connects to journald, a write fails with EPIPE
  struct pollfd ready{journald.listener.get(), POLLIN, 0};
  BOOST_TEST(poll(&ready, 1, 100) == 0, "no new stream to journald");
  const std::string line = "<5>after restore\n";
  BOOST_TEST(send(restored_end.get(), line.data(), line.size(), MSG_NOSIGNAL) == -1);
  BOOST_TEST(errno == EPIPE);
}
