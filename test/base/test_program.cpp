// SPDX-License-Identifier: GPL-2.0-or-later
// base/program.hpp: running a program to its end (the CLI's criu, the
// probe's, the tests' commands), and the last lines of a log.
#define BOOST_TEST_MODULE base_program
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/program.hpp"
#include "sandboxed_process.hpp"

using namespace std::chrono_literals;
using dbus_checkpoint::base::last_lines;
using dbus_checkpoint::base::namespaces_apart;
using dbus_checkpoint::base::ProgramCommand;
using dbus_checkpoint::base::run_program;
using dbus_checkpoint::test::SandboxedProcess;

BOOST_AUTO_TEST_CASE(programs_run_to_their_end)
{
  auto ok = run_program({{"/bin/sh", "-c", "echo out; echo err >&2; echo $DCP_X"},
                         {{"DCP_X", "set"}}, 10s});
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok.value().succeeded());
  BOOST_TEST(ok.value().output == "out\nerr\nset\n");

  auto failed = run_program({{"/bin/sh", "-c", "exit 3"}, {}, 10s});
  BOOST_REQUIRE(failed.ok());
  BOOST_TEST(failed.value().exit_status == 3);
  BOOST_TEST(failed.value().describe_end(10s) == "exit status 3");

  auto killed = run_program({{"/bin/sh", "-c", "kill -9 $$"}, {}, 10s});
  BOOST_REQUIRE(killed.ok());
  BOOST_TEST(killed.value().term_signal == SIGKILL);
  BOOST_TEST(killed.value().describe_end(10s) == "killed by signal 9 (Killed)");

  auto slow = run_program({{"/bin/sleep", "10"}, {}, 200ms});
  BOOST_REQUIRE(slow.ok());
  BOOST_TEST(slow.value().timed_out);
  BOOST_TEST(!slow.value().succeeded());

  auto missing = run_program({{"/nonexistent/criu"}, {}, 10s});
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().message == "cannot run /nonexistent/criu: No such file or directory");
  BOOST_TEST(missing.error().errno_value == ENOENT);

  auto nothing = run_program({});
  BOOST_REQUIRE(!nothing.ok());
  BOOST_TEST(nothing.error().fatal(), "a caller's bug, not the world's");
}

BOOST_AUTO_TEST_CASE(stderr_apart_and_names_looked_up_in_path)
{
  ProgramCommand command{{"sh", "-c", "echo out; echo err >&2"}, {}, 10s};
  BOOST_TEST(!run_program(command).ok(), "without search_path argv[0] is a path");
  command.search_path = true;
  command.separate_stderr = true;
  auto run = run_program(command);
  BOOST_REQUIRE(run.ok());
  BOOST_TEST(run.value().output == "out\n");
  BOOST_TEST(run.value().errors == "err\n");
}

BOOST_AUTO_TEST_CASE(only_fds_0_to_2_are_passed_on)
{
  const int kept = ::fcntl(STDERR_FILENO, F_DUPFD, 10);  // not close-on-exec, not ls's own fd
  BOOST_REQUIRE(kept > 2);
  auto run = run_program({{"/bin/sh", "-c", "ls /proc/self/fd"}, {}, 10s});
  ::close(kept);
  BOOST_REQUIRE(run.ok());
  // 0, 1, 2 and the fd ls opened for /proc/self/fd.
  BOOST_TEST(run.value().output.find("\n" + std::to_string(kept) + "\n") == std::string::npos,
             run.value().output);
}

namespace {

// Gone, or a zombie nobody reaped yet (PID 1 here reaps orphans late).
bool ended(pid_t pid)
{
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const auto state = text.rfind(')');
  return !stat || state == std::string::npos || text.compare(state, 3, ") Z") == 0;
}

} // namespace

// criu --status-fd 3: the one descriptor more, as fd 3, whatever its
// number here (3 itself included), and nothing else beyond 0-2.
BOOST_AUTO_TEST_CASE(a_status_fd_is_passed_on_as_fd_3)
{
  for (bool take_fd_3 : {false, true}) {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    if (take_fd_3 && fds[1] != 3) {  // make the write end fd 3, if 3 is free
      if (::fcntl(3, F_GETFD) < 0 && ::dup3(fds[1], 3, O_CLOEXEC) == 3) {
        ::close(fds[1]);
        fds[1] = 3;
      }
    }
    const int extra = ::fcntl(STDERR_FILENO, F_DUPFD, 10);  // not close-on-exec: not passed on either
    ProgramCommand command{{"/bin/sh", "-c", "printf ready >&3; ls /proc/self/fd"}, {}, 10s};
    command.status_fd = fds[1];
    auto run = run_program(command);
    ::close(extra);
    ::close(fds[1]);
    BOOST_REQUIRE(run.ok());
    char got[8] = {};
    BOOST_TEST(::read(fds[0], got, sizeof got) == 5);
    BOOST_TEST(std::string(got) == "ready", "status fd " << fds[1]);
    ::close(fds[0]);
    BOOST_TEST(run.value().output.find("\n" + std::to_string(extra) + "\n") == std::string::npos,
               run.value().output);
  }
}

BOOST_AUTO_TEST_CASE(its_end_does_not_wait_for_what_it_left_running)
{
  const auto started = std::chrono::steady_clock::now();
  // The sleep holds the output pipe open after the shell's end.
  auto run = run_program({{"/bin/sh", "-c", "sleep 30 & echo $!"}, {}, 20s});
  BOOST_REQUIRE(run.ok());
  BOOST_TEST(run.value().succeeded());
  BOOST_TEST((std::chrono::steady_clock::now() - started < 10s));
  ::kill(std::stoi(run.value().output), SIGKILL);
}

BOOST_AUTO_TEST_CASE(a_timeout_kills_its_own_process_group)
{
  ProgramCommand command{{"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, {}, 500ms};
  command.own_process_group = true;
  auto run = run_program(command);
  BOOST_REQUIRE(run.ok());
  BOOST_TEST(run.value().timed_out);
  const pid_t sleeper = std::stoi(run.value().output);
  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    gone = ended(sleeper);
    if (!gone)
      ::usleep(10'000);
  }
  if (!gone)
    ::kill(sleeper, SIGKILL);
  BOOST_TEST(gone, "the sleep the shell left is killed with it");
}

namespace {

std::string namespace_link(const std::string &process, const char *kind)
{
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + process + "/ns/" + kind, error).string();
}

} // namespace

BOOST_AUTO_TEST_CASE(programs_run_in_the_namespaces_of_another_process)
{
  char pattern[] = "/tmp/dcp-test-program-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(pattern));
  const std::filesystem::path ours = pattern;
  BOOST_REQUIRE(std::ofstream(ours / "ours"));
  {
    SandboxedProcess sandboxed(
        ours, [](int) { return true; },
        [&] { return static_cast<bool>(std::ofstream(ours / "theirs")); });
    const std::string pid = std::to_string(sandboxed.pid);
    BOOST_TEST(namespaces_apart(sandboxed.pid) == (std::vector<std::string>{"net", "mnt"}));
    BOOST_TEST(namespaces_apart(::getpid()).empty());

    ProgramCommand command{{"/bin/sh", "-c",
                            "readlink /proc/self/ns/net /proc/self/ns/mnt; ls; ls " +
                                ours.string() + "; echo x > written"},
                           {}, 10s};
    command.namespaces_of = sandboxed.pid;
    command.working_directory = ours;
    auto run = run_program(command);
    BOOST_REQUIRE(run.ok());
    BOOST_TEST(run.value().succeeded(), run.value().output);
    // their namespaces; "." is our directory, its path theirs (the tmpfs)
    BOOST_TEST(run.value().output == namespace_link(pid, "net") + "\n" +
                                         namespace_link(pid, "mnt") + "\nours\ntheirs\n");
    BOOST_TEST(std::filesystem::exists(ours / "written"), "written through our directory");

    command.argv[0] = "sh";
    BOOST_TEST(!run_program(command).ok(), "another namespace needs an absolute program path");
  }
  std::filesystem::remove_all(ours);
}

BOOST_AUTO_TEST_CASE(log_tails)
{
  BOOST_TEST(last_lines("a\nb\nc\n", 2, "> ") == "> b\n> c\n");
  BOOST_TEST(last_lines("a\nb", 5, "") == "a\nb\n");
  BOOST_TEST(last_lines("a\n\nb\n", 2) == "\nb\n");
  BOOST_TEST(last_lines("", 5, "") == "");
}
