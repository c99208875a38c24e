// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/criu-probe: the probe of the real CRIU works and costs little;
// a CRIU that hangs, fails, lies about its version or is missing is found
// out within the time limit, with a message that says what happened and
// what to do, and leaves no process behind.  Root (CRIU needs it).
#define BOOST_TEST_MODULE criu_probe
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "criu-probe/criu_probe.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dbus_checkpoint::criu::probe;
using dbus_checkpoint::criu::ProbeOptions;
using dbus_checkpoint::criu::ProbeResult;
using Clock = std::chrono::steady_clock;

namespace {

struct ScratchDir {
  fs::path path;
  ScratchDir()
  {
    std::string pattern = (fs::temp_directory_path() / "test-criu-probe.XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()));
    path = pattern;
  }
  ~ScratchDir()
  {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// A stand-in for criu: a shell script with this body.
fs::path fake_criu(const ScratchDir &dir, const std::string &name, const std::string &body)
{
  const fs::path path = dir.path / name;
  std::ofstream(path) << "#!/bin/sh\n" << body;
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

std::size_t processes_running(const std::string &command_line_part)
{
  std::size_t found = 0;
  for (const auto &entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    if (cmdline.find(command_line_part) != std::string::npos)
      ++found;
  }
  return found;
}

struct TimedProbe {
  ProbeResult result;
  std::chrono::milliseconds took;
};

TimedProbe run_probe(const fs::path &criu, const ScratchDir &dir, std::chrono::milliseconds limit)
{
  ProbeOptions options;
  options.executable = criu.string();
  options.time_limit = limit;
  options.work_dir = dir.path;
  options.advice = "use -DDCP_CRIU=BUILD";
  const auto started = Clock::now();
  ProbeResult result = probe(options);
  return {result, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)};
}

} // namespace

BOOST_AUTO_TEST_CASE(the_real_criu_dumps_and_restores_the_test_process)
{
  ScratchDir dir;
  TimedProbe run = run_probe(DCP_CRIU_EXECUTABLE, dir, 20s);
  BOOST_TEST_MESSAGE(run.result.message);
  BOOST_REQUIRE_MESSAGE(run.result.works, run.result.message);
  BOOST_REQUIRE(run.result.version);
  BOOST_TEST(run.result.version->str().rfind("4.", 0) == 0);
  BOOST_TEST(run.result.dump_time.count() > 0);
  BOOST_TEST(run.result.restore_time.count() > 0);
  BOOST_TEST(run.result.images_dir.empty());  // removed on success
  BOOST_TEST(fs::is_empty(dir.path));
  BOOST_TEST(run.result.message.find(" works: dumped and restored a test process") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_criu_that_hangs_in_the_dump_fails_within_the_limit)
{
  ScratchDir dir;
  const fs::path criu =
      fake_criu(dir, "criu-hangs", "case \"$1\" in --version) echo 'Version: 4.1.1';;\n"
                                   "*) exec sleep 424242 ;; esac\n");
  TimedProbe run = run_probe(criu, dir, 3s);
  BOOST_TEST_MESSAGE(run.result.message);
  BOOST_TEST(!run.result.works);
  BOOST_TEST(run.took.count() < 8000);
  BOOST_TEST(run.result.message.find("criu 4.1.1 (" + criu.string() +
                                     ") did not finish a dump of a test process (a session "
                                     "leader with a unix socketpair and a UDP socket) in 3 s; "
                                     "CRIU < 4.2 hangs where hardware breakpoints are not "
                                     "virtualized -- use -DDCP_CRIU=BUILD") == 0,
             run.result.message);
  BOOST_TEST(run.result.message.find("images and logs kept in") != std::string::npos);
  BOOST_TEST(processes_running("424242") == 0u);
}

BOOST_AUTO_TEST_CASE(the_dcp_criu_probe_program_fails_on_a_hanging_criu)
{
  ScratchDir dir;
  const fs::path criu = fake_criu(dir, "criu-hangs-always", "exec sleep 424243\n");
  const std::string command = std::string(DCP_CRIU_PROBE) + " --criu " + criu.string() +
                              " --time-limit 2 --work-dir " + dir.path.string() + " 2>&1";
  const auto started = Clock::now();
  std::FILE *pipe = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe);
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t got = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), got);
  const int status = ::pclose(pipe);
  BOOST_TEST((Clock::now() - started < 7s));
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 1);
  BOOST_TEST(output.find("dcp-criu-probe: " + criu.string() + " --version did not answer in 2 s") ==
                 0,
             output);
  BOOST_TEST(output.find("use CRIU >= 4.2") != std::string::npos, output);
  BOOST_TEST(processes_running("424243") == 0u);
}

BOOST_AUTO_TEST_CASE(a_failing_dump_shows_criu_errors_and_the_log_tail)
{
  ScratchDir dir;
  // Like CRIU 4.1.1 with an inet socket on kernel >= 6.16.
  const fs::path criu = fake_criu(
      dir, "criu-fails",
      "case \"$1\" in --version) echo 'Version: 4.1.1'; exit 0;; esac\n"
      "while [ $# -gt 0 ]; do [ \"$1\" = -D ] && dir=$2; shift; done\n"
      "{ echo '(00.01) Dumping sockets'\n"
      "  echo \"(00.02) Error (criu/sockets.c:711): sockets: Can't get 1:16 opt: Operation not "
      "supported\"\n"
      "  i=0; while [ $i -lt 20 ]; do echo \"(00.1$i) Unlock network\"; i=$((i+1)); done\n"
      "} > \"$dir/dump.log\"\nexit 1\n");
  TimedProbe run = run_probe(criu, dir, 10s);
  BOOST_TEST_MESSAGE(run.result.message);
  BOOST_TEST(!run.result.works);
  const std::string &m = run.result.message;
  BOOST_TEST(m.find("failed: a dump of a test process") != std::string::npos, m);
  BOOST_TEST(m.find("ended with exit status 1; CRIU 4.1.1 is older than 4.2") != std::string::npos,
             m);
  BOOST_TEST(m.find("errors in ") != std::string::npos, m);
  BOOST_TEST(m.find("  (00.02) Error (criu/sockets.c:711): sockets: Can't get 1:16 opt") !=
                 std::string::npos,
             m);
  BOOST_TEST(m.find("and its last lines:\n") != std::string::npos, m);
  BOOST_TEST(m.find("  (00.119) Unlock network\n") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(a_criu_that_is_not_there_or_not_criu)
{
  ScratchDir dir;
  TimedProbe missing = run_probe(dir.path / "no-such-criu", dir, 5s);
  BOOST_TEST(!missing.result.works);
  BOOST_TEST(missing.result.message.find("cannot run criu at '" +
                                         (dir.path / "no-such-criu").string() + "'") == 0);
  const fs::path liar = fake_criu(dir, "not-criu", "echo 'hello'\n");
  TimedProbe wrong = run_probe(liar, dir, 5s);
  BOOST_TEST(!wrong.result.works);
  BOOST_TEST(wrong.result.message.find(liar.string() + " --version printed no version: hello") ==
                 0,
             wrong.result.message);
}
