// SPDX-License-Identifier: GPL-2.0-or-later
#include "process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

extern char **environ;

namespace dcp::test {
namespace {

using dbus_checkpoint::base::UniqueFd;


[[noreturn]] void fail(const std::string &what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::pair<UniqueFd, UniqueFd> make_pipe()
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    fail("pipe2");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Children get stdin, stdout and stderr only: an fd inherited from the
// test runner (a pipe, say) would make CRIU refuse to dump a service.
void close_inherited_fds()
{
  close_range(3, ~0U, 0);
}

std::vector<char *> c_argv(const std::vector<std::string> &argv)
{
  std::vector<char *> out;
  for (const auto &a : argv)
    out.push_back(const_cast<char *>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int wait_status_to_exit(int status, CommandResult &r)
{
  if (WIFEXITED(status))
    r.exit_status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.term_signal = WTERMSIG(status);
  return r.exit_status;
}

} // namespace

std::string CommandResult::describe() const
{
  std::ostringstream s;
  s << "exit " << exit_status;
  if (term_signal)
    s << " (signal " << term_signal << ")";
  if (timed_out)
    s << " (timed out)";
  s << "\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err;
  return s.str();
}

CommandResult run_command(const std::vector<std::string> &argv,
                          std::chrono::milliseconds timeout,
                          const std::map<std::string, std::string> &extra_env)
{
  if (argv.empty())
    throw std::invalid_argument("run_command: empty argv");
  auto [out_r, out_w] = make_pipe();
  auto [err_r, err_w] = make_pipe();
  auto args = c_argv(argv);

  pid_t pid = fork();
  if (pid < 0)
    fail("fork");
  if (pid == 0) {
    dup2(out_w.get(), STDOUT_FILENO);
    dup2(err_w.get(), STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    close_inherited_fds();
    for (const auto &[k, v] : extra_env)
      setenv(k.c_str(), v.c_str(), 1);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  out_w.reset();
  err_w.reset();

  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  struct pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  std::string *sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      fail("poll");
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[8192];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  wait_status_to_exit(status, result);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string> &argv, const std::string &log_path,
                           bool new_session)
{
  if (argv.empty())
    throw std::invalid_argument("ChildProcess: empty argv");
  UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0)
    fail("open " + log_path);
  auto args = c_argv(argv);
  const pid_t pid = fork();
  if (pid < 0)
    fail("fork");
  if (pid == 0) {
    if (new_session)
      setsid();
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    dup2(log.get(), STDOUT_FILENO);
    dup2(log.get(), STDERR_FILENO);
    close_inherited_fds();
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  child_ = dbus_checkpoint::base::ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess &&other) noexcept = default;

ChildProcess &ChildProcess::operator=(ChildProcess &&other) noexcept
{
  if (this != &other) {
    kill_hard();
    child_ = std::move(other.child_);
  }
  return *this;
}

ChildProcess::~ChildProcess()
{
  if (child_.running())
    stop(std::chrono::seconds(2));
}

bool ChildProcess::running()
{
  return child_.running() && !child_.try_reap().has_value();
}

int ChildProcess::reap(std::chrono::milliseconds timeout)
{
  return child_.wait_for(timeout).value_or(-1);
}

int ChildProcess::stop(std::chrono::milliseconds grace)
{
  if (!child_.running())
    return -1;
  kill(child_.pid(), SIGTERM);
  int status = reap(grace);
  if (child_.running())
    status = kill_hard();
  return status;
}

int ChildProcess::kill_hard()
{
  return child_.kill_and_reap();
}

std::string read_file(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace dcp::test
