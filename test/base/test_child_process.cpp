// SPDX-License-Identifier: GPL-2.0-or-later
// base/child_process.hpp: a child is waited for through its pidfd (its end
// wakes the waiter at once), bounded in time, and never left behind.
#define BOOST_TEST_MODULE base_child_process
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "base/child_process.hpp"

using dbus_checkpoint::base::ChildProcess;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A child that sleeps `seconds` then exits with `status`.
ChildProcess start_child(unsigned seconds, int status, bool own_group = false)
{
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    if (own_group)
      ::setpgid(0, 0);
    ::sleep(seconds);
    ::_exit(status);
  }
  if (own_group)
    ::setpgid(pid, pid);
  return ChildProcess(pid, own_group);
}

// Alive: it exists and is not a zombie (one killed whose parent died too
// waits for its new parent, init, to reap it; under a pid namespace whose
// init reaps nobody, e.g. `unshare --pid --fork ctest`, never).
bool exists(pid_t pid)
{
  if (::kill(pid, 0) != 0)
    return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto end_of_name = line.rfind(')');
  return end_of_name == std::string::npos || line.compare(end_of_name, 3, ") Z") != 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(its_end_wakes_the_waiter_at_once)
{
  ChildProcess child = start_child(0, 7);
  BOOST_TEST(child.pidfd() >= 0, "pidfd_open works on this kernel");
  const auto started = Clock::now();
  auto status = child.wait_for(10s);
  const auto waited = Clock::now() - started;
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(WIFEXITED(*status));
  BOOST_TEST(WEXITSTATUS(*status) == 7);
  BOOST_TEST(!child.running(), "reaped");
  BOOST_TEST(child.pid() == -1);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() < 2000);
  BOOST_TEST(!child.wait_for(0ms).has_value(), "nothing left to wait for");
}

BOOST_AUTO_TEST_CASE(a_time_out_leaves_it_running_and_ours)
{
  ChildProcess child = start_child(30, 0);
  const pid_t pid = child.pid();
  const auto started = Clock::now();
  BOOST_TEST(!child.wait_for(200ms).has_value());
  BOOST_TEST((Clock::now() - started >= 200ms));
  BOOST_TEST(!child.try_reap().has_value());
  BOOST_TEST(child.running());
  BOOST_TEST(exists(pid));
  const int status = child.kill_and_reap();
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);
  BOOST_TEST(!exists(pid), "killed and reaped, no zombie");
}

BOOST_AUTO_TEST_CASE(its_owner_going_kills_it_and_its_group)
{
  pid_t pid = -1, grandchild = -1;
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  {
    const pid_t leader = ::fork();
    BOOST_REQUIRE(leader >= 0);
    if (leader == 0) {
      ::setpgid(0, 0);
      const pid_t inner = ::fork();
      if (inner == 0) {
        ::sleep(30);
        ::_exit(0);
      }
      (void)!::write(pipe_fds[1], &inner, sizeof inner);
      ::sleep(30);
      ::_exit(0);
    }
    ::setpgid(leader, leader);
    ChildProcess child(leader, /*kill_group=*/true);
    pid = leader;
    BOOST_REQUIRE(::read(pipe_fds[0], &grandchild, sizeof grandchild) == sizeof grandchild);
    BOOST_TEST(exists(grandchild));
  }
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  BOOST_TEST(!exists(pid), "the child is gone with its owner");
  // the grandchild, killed with the group, is reaped by init (or us as
  // subreaper): give it a moment
  const auto deadline = Clock::now() + 5s;
  while (exists(grandchild) && Clock::now() < deadline) {
    int status;
    ::waitpid(-1, &status, WNOHANG);
    ::usleep(10'000);
  }
  BOOST_TEST(!exists(grandchild), "its process group is killed too");
}

BOOST_AUTO_TEST_CASE(moving_hands_over_the_child)
{
  ChildProcess first = start_child(30, 0);
  const pid_t pid = first.pid();
  ChildProcess second(std::move(first));
  BOOST_TEST(!first.running());
  BOOST_TEST(second.pid() == pid);
  BOOST_TEST(second.pidfd() >= 0);
  ChildProcess third = start_child(30, 0);
  const pid_t replaced = third.pid();
  third = std::move(second);
  BOOST_TEST(!exists(replaced), "assigning kills and reaps the one it held");
  BOOST_TEST(third.pid() == pid);
  BOOST_TEST(third.kill_and_reap() != -1);
  BOOST_TEST(third.kill_and_reap() == -1, "nothing left to kill");
}
