// SPDX-License-Identifier: GPL-2.0-or-later
#include "process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "base/program.hpp"
#include "base/unique_fd.hpp"

extern char **environ;

namespace dcp::test {
namespace {

using dbus_checkpoint::base::UniqueFd;


[[noreturn]] void fail(const std::string &what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
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
  dbus_checkpoint::base::ProgramCommand command{argv, extra_env, timeout};
  command.search_path = true;
  command.separate_stderr = true;
  auto run = dbus_checkpoint::base::run_program(command);
  CommandResult result;
  if (!run) {
    // As a shell says it: the program could not be started.
    result.exit_status = 127;
    result.err = run.error().describe() + "\n";
    return result;
  }
  result.exit_status = run.value().exit_status;
  result.term_signal = run.value().term_signal;
  result.timed_out = run.value().timed_out;
  result.out = std::move(run.value().output);
  result.err = std::move(run.value().errors);
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
