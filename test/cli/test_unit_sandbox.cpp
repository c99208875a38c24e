// SPDX-License-Identifier: GPL-2.0-or-later
// cli/unit_sandbox.hpp: a systemd unit's sandbox as criu sees it from
// inside -- its namespaces, the files of the tree outside its mounts, what
// the restore needs to see in it.  Real namespaces (root).
#define BOOST_TEST_MODULE cli_unit_sandbox
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <linux/close_range.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/process_tree.hpp"
#include "cli/unit_sandbox.hpp"
#include "sandboxed_process.hpp"

using namespace dbus_checkpoint::cli;
namespace fs = std::filesystem;

namespace {

// A process as systemd leaves a sandboxed service: only stdin, stdout and
// stderr open (all /dev/null), and `outside_file` if given, opened before
// its namespaces were made.
struct SandboxedService : dbus_checkpoint::test::SandboxedProcess {
  explicit SandboxedService(const fs::path &covered, const fs::path &outside_file = {})
      : SandboxedProcess(
            covered,
            [&](int keep) {
              ::close_range(0, keep - 1, 0);
              ::close_range(keep + 1, ~0U, 0);
              return ::open("/dev/null", O_RDONLY) == 0 && ::dup(0) == 1 && ::dup(0) == 2 &&
                     (outside_file.empty() || ::open(outside_file.c_str(), O_RDONLY) >= 0);
            },
            [] { return true; })
  {
  }
  std::vector<ProcessInfo> tree() const { return {ProcessInfo{{pid, 0}, ::getpid(), 'S'}}; }
};

struct TempDir {
  fs::path path;
  TempDir()
  {
    char pattern[] = "/tmp/dcp-test-sandbox-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(pattern));
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
};

} // namespace

BOOST_AUTO_TEST_CASE(proc_texts)
{
  BOOST_TEST(mount_ids("22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"
                       "101 22 0:5 / /dev rw master:2 - devtmpfs udev rw\n") ==
             (std::set<int>{22, 101}));
  BOOST_TEST(mount_ids("").empty());
  BOOST_TEST(fdinfo_mount_id("pos:\t0\nflags:\t0100000\nmnt_id:\t101\nino:\t4\n").value_or(0) == 101);
  BOOST_TEST(!fdinfo_mount_id("pos:\t0\nflags:\t02\n").has_value());
  // criu's own format: file[%x:%lx]
  BOOST_TEST(criu_file_id(101, 0x4) == "file[65:4]");
  BOOST_TEST(criu_file_id(1, 0x123456789a) == "file[1:123456789a]");
}

BOOST_AUTO_TEST_CASE(a_process_in_our_namespaces_has_no_sandbox)
{
  auto ours = unit_sandbox_of({ProcessInfo{{::getpid(), 0}, 1, 'R'}});
  BOOST_REQUIRE(ours.ok());
  BOOST_TEST(!ours.value());
}

BOOST_AUTO_TEST_CASE(stdin_from_outside_the_sandbox_is_an_external_file)
{
  TempDir covered;
  SandboxedService service(covered.path);
  auto sandbox = unit_sandbox_of(service.tree());
  BOOST_REQUIRE_MESSAGE(sandbox.ok(), (sandbox.ok() ? "" : sandbox.error().message));
  BOOST_REQUIRE(sandbox.value());
  BOOST_TEST(sandbox.value()->pid == service.pid);
  BOOST_TEST(sandbox.value()->seen.namespaces == (std::vector<std::string>{"net", "mnt"}));

  // its stdin: the /dev/null opened before the namespace
  std::ifstream fdinfo("/proc/" + std::to_string(service.pid) + "/fdinfo/0");
  std::string text((std::istreambuf_iterator<char>(fdinfo)), {});
  struct stat dev_null{};
  BOOST_REQUIRE(::stat("/dev/null", &dev_null) == 0);
  const std::string id = criu_file_id(*fdinfo_mount_id(text), dev_null.st_ino);
  const auto &outside = sandbox.value()->seen.outside_files;
  BOOST_TEST(outside == (std::vector<std::string>{id}), "one file: fds 0-2 share it; " + id);
  BOOST_TEST(sandbox_dump_options(*sandbox.value()).size() == 2 * outside.size());
  BOOST_TEST(sandbox_restore_options(sandbox.value()->seen).at(1) == "fd[0]:" + outside.at(0));
}

BOOST_AUTO_TEST_CASE(another_file_from_outside_the_sandbox_is_refused)
{
  TempDir covered;
  TempDir files;
  const fs::path file = files.path / "state";
  BOOST_REQUIRE(std::ofstream(file) << "x");
  SandboxedService service(covered.path, file);
  auto sandbox = unit_sandbox_of(service.tree());
  BOOST_REQUIRE(!sandbox.ok());
  BOOST_TEST(sandbox.error().message.find("open on " + file.string() +
                                          ", a file outside its unit's sandbox") != std::string::npos,
             sandbox.error().message);
}

BOOST_AUTO_TEST_CASE(what_the_restore_needs_must_be_the_same_in_the_sandbox)
{
  TempDir covered;
  SandboxedService service(covered.path);
  auto sandbox = unit_sandbox_of(service.tree());
  BOOST_REQUIRE(sandbox.ok() && sandbox.value());
  BOOST_TEST(check_visible_in_sandbox(*sandbox.value(), "/usr/bin", "programs").ok());
  auto hidden = check_visible_in_sandbox(*sandbox.value(), covered.path, "the images directory");
  BOOST_REQUIRE(!hidden.ok());
  BOOST_TEST(hidden.error().message.starts_with("the images directory " + covered.path.string() +
                                                " is not the same in the sandbox of pid "),
             hidden.error().message);
}
