// SPDX-License-Identifier: GPL-2.0-or-later
#include "base/program.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>
#include <utility>

#include "base/child_process.hpp"
#include "base/unique_fd.hpp"

extern char **environ;

namespace dbus_checkpoint::base {

Result<Pipe> make_pipe()
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0)
    return errno_error("pipe2", errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

namespace {

// NAME=VALUE strings: ours, with `overrides` replacing or adding.
std::vector<std::string> environment_with(const std::map<std::string, std::string> &overrides)
{
  std::vector<std::string> entries;
  for (char **entry = environ; entry && *entry; ++entry) {
    std::string text = *entry;
    if (!overrides.contains(text.substr(0, text.find('='))))
      entries.push_back(std::move(text));
  }
  for (const auto &[name, value] : overrides)
    entries.push_back(name + "=" + value);
  return entries;
}

std::vector<char *> c_strings(std::vector<std::string> &strings)
{
  std::vector<char *> pointers;
  for (std::string &text : strings)
    pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Appends what can be read now; false at end of file (or an error).
bool read_available(int fd, std::string &out)
{
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got > 0) {
      out.append(buffer, static_cast<std::size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR)
      continue;
    return got < 0 && errno == EAGAIN;
  }
}

// The kinds of namespace namespaces_of enters, mount last: once in
// another mount namespace, /proc paths may not mean what they did.
struct NamespaceKind {
  const char *name;
  int type;
};
constexpr NamespaceKind kEnteredNamespaces[] = {
    {"net", CLONE_NEWNET}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"mnt", CLONE_NEWNS}};

// What the child does before exec besides the standard streams, opened by
// the parent (the child makes only async-signal-safe calls).
struct ChildPlace {
  std::vector<std::pair<UniqueFd, int>> namespaces;  // fd of /proc/PID/ns/X, CLONE_NEW*
  UniqueFd working_directory;
  UniqueFd executable;  // O_PATH: run with execveat(AT_EMPTY_PATH)
};

bool same_namespace(pid_t pid, const char *kind)
{
  struct stat theirs{}, ours{};
  const std::string path = std::string("/ns/") + kind;
  return ::stat(("/proc/" + std::to_string(pid) + path).c_str(), &theirs) != 0 ||
         ::stat(("/proc/self" + path).c_str(), &ours) != 0 ||
         (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino);
}

Result<ChildPlace> open_child_place(const ProgramCommand &command)
{
  ChildPlace place;
  if (!command.working_directory.empty()) {
    place.working_directory.reset(
        ::open(command.working_directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!place.working_directory)
      return errno_error("cannot open " + command.working_directory.string(), errno);
  }
  if (command.namespaces_of == 0)
    return place;
  if (command.search_path || !command.argv[0].starts_with('/'))
    return fatal_error("run_program: a program run in another process's namespaces needs an "
                       "absolute path");
  place.executable.reset(::open(command.argv[0].c_str(), O_PATH | O_CLOEXEC));
  if (!place.executable)
    return errno_error("cannot run " + command.argv[0], errno);
  for (const NamespaceKind &kind : kEnteredNamespaces) {
    if (same_namespace(command.namespaces_of, kind.name))
      continue;
    const std::string path =
        "/proc/" + std::to_string(command.namespaces_of) + "/ns/" + kind.name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
      return errno_error("cannot open " + path, errno);
    place.namespaces.emplace_back(std::move(fd), kind.type);
  }
  return place;
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(char **argv, char **envp, int stdin_fd, int output_fd,
                             int errors_fd, int exec_error_fd, const ProgramCommand &command,
                             const ChildPlace &place)
{
  bool placed = true;
  for (const auto &[fd, type] : place.namespaces)
    placed = placed && ::setns(fd.get(), type) == 0;
  if (!placed || (place.working_directory && ::fchdir(place.working_directory.get()) < 0) ||
      (command.new_session && ::setsid() < 0) ||
      (command.own_process_group && ::setpgid(0, 0) < 0) || ::dup2(stdin_fd, STDIN_FILENO) < 0 ||
      ::dup2(output_fd, STDOUT_FILENO) < 0 || ::dup2(errors_fd, STDERR_FILENO) < 0) {
    int error = errno;
    (void)!::write(exec_error_fd, &error, sizeof error);
    ::_exit(127);
  }
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  if (command.status_fd >= 0 && exec_error_fd == 3)
    exec_error_fd = ::fcntl(3, F_DUPFD_CLOEXEC, 4);  // fd 3 becomes the status fd
  if (command.status_fd >= 0 &&
      (command.status_fd == 3 ? ::fcntl(3, F_SETFD, 0) : ::dup2(command.status_fd, 3)) < 0) {
    int error = errno;
    (void)!::write(exec_error_fd, &error, sizeof error);
    ::_exit(127);
  }
  ::signal(SIGPIPE, SIG_DFL);
  if (place.executable)
    ::execveat(place.executable.get(), "", argv, envp, AT_EMPTY_PATH);
  else if (command.search_path)
    ::execvpe(argv[0], argv, envp);
  else
    ::execve(argv[0], argv, envp);
  int error = errno;
  (void)!::write(exec_error_fd, &error, sizeof error);
  ::_exit(127);
}

// Forks and execs `command` with these as its fds 0, 1 and 2: the running
// child, or why it could not be started.
Result<ChildProcess> spawn(const ProgramCommand &command, int stdin_fd, int output_fd,
                           int errors_fd)
{
  auto exec_error = make_pipe();
  if (!exec_error)
    return exec_error.error();
  auto place = open_child_place(command);
  if (!place)
    return place.error();
  std::vector<std::string> argv_strings = command.argv;
  std::vector<std::string> env_strings = environment_with(command.environment);
  std::vector<char *> argv = c_strings(argv_strings);
  std::vector<char *> envp = c_strings(env_strings);

  pid_t pid = ::fork();
  if (pid < 0)
    return errno_error("fork", errno);
  if (pid == 0)
    exec_child(argv.data(), envp.data(), stdin_fd, output_fd, errors_fd,
               exec_error.value().write_end.get(), command, place.value());
  if (command.own_process_group)
    ::setpgid(pid, pid);  // before we may kill the group, whoever runs first
  ChildProcess child(pid, command.own_process_group);
  exec_error.value().write_end.reset();

  // exec closes the error pipe; before that, a failure writes its errno.
  int exec_errno = 0;
  ssize_t got = 0;
  while ((got = ::read(exec_error.value().read_end.get(), &exec_errno, sizeof exec_errno)) < 0 &&
         errno == EINTR) {
  }
  if (got == sizeof exec_errno) {
    child.kill_and_reap();
    return errno_error("cannot run " + command.argv[0], exec_errno);
  }
  return child;
}

} // namespace

std::vector<std::string> namespaces_apart(pid_t pid)
{
  std::vector<std::string> apart;
  for (const NamespaceKind &kind : kEnteredNamespaces)
    if (!same_namespace(pid, kind.name))
      apart.emplace_back(kind.name);
  return apart;
}

std::string ProgramRun::describe_end(std::chrono::milliseconds timeout) const
{
  if (timed_out)
    return "timed out after " + std::to_string(timeout.count() / 1000) + " s";
  if (term_signal)
    return "killed by signal " + std::to_string(term_signal) + " (" + ::strsignal(term_signal) +
           ")";
  return "exit status " + std::to_string(exit_status);
}

Result<ProgramRun> run_program(const ProgramCommand &command)
{
  if (command.argv.empty())
    return fatal_error("run_program: no program");
  auto output = make_pipe();
  if (!output)
    return output.error();
  auto errors = make_pipe();  // used with separate_stderr only
  if (!errors)
    return errors.error();
  // read-write: criu --inherit-fd may give it for a restored /dev/null
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null)
    return errno_error("cannot open /dev/null", errno);
  auto started = spawn(command, dev_null.get(), output.value().write_end.get(),
                       (command.separate_stderr ? errors : output).value().write_end.get());
  if (!started)
    return started.error();
  ChildProcess child = std::move(started).value();
  output.value().write_end.reset();
  errors.value().write_end.reset();

  // Its output (stdout, stderr) and its end (the pidfd) wake us, nothing
  // else.  Its end does not wait for the pipes: a process it left behind
  // may hold them.
  ProgramRun run;
  struct Stream {
    int fd;
    std::string &sink;
    bool open;
  };
  Stream streams[2] = {{output.value().read_end.get(), run.output, true},
                       {errors.value().read_end.get(), run.errors, command.separate_stderr}};
  for (const Stream &stream : streams)
    ::fcntl(stream.fd, F_SETFL, ::fcntl(stream.fd, F_GETFL) | O_NONBLOCK);
  const auto read_all = [&] {
    for (Stream &stream : streams)
      if (stream.open)
        stream.open = read_available(stream.fd, stream.sink);
  };
  const auto deadline = std::chrono::steady_clock::now() + command.timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      child.kill_and_reap();
      read_all();
      run.timed_out = true;
      return run;
    }
    struct pollfd poll_fds[3];
    nfds_t n_fds = 0;
    for (const Stream &stream : streams)
      if (stream.open)
        poll_fds[n_fds++] = {stream.fd, POLLIN, 0};
    if (child.pidfd() >= 0)
      poll_fds[n_fds++] = {child.pidfd(), POLLIN, 0};
    // without a pidfd (Linux before 5.3) we look for its end every 5 ms
    const auto wait = child.pidfd() >= 0 ? left : std::min(left, std::chrono::milliseconds(5));
    ::poll(poll_fds, n_fds, static_cast<int>(wait.count()));
    read_all();
    if (auto status = child.try_reap()) {
      read_all();
      if (WIFEXITED(*status))
        run.exit_status = WEXITSTATUS(*status);
      else if (WIFSIGNALED(*status))
        run.term_signal = WTERMSIG(*status);
      return run;
    }
  }
}

Result<ChildProcess> start_program(const ProgramCommand &command,
                                   const std::filesystem::path &output_file)
{
  if (command.argv.empty())
    return fatal_error("start_program: no program");
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null)
    return errno_error("cannot open /dev/null", errno);
  // Made anew, never written through: a symlink or hard link left under
  // its name (in a directory others may have written) is replaced.
  if (::unlink(output_file.c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot remove " + output_file.string(), errno);
  UniqueFd output(::open(output_file.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!output)
    return errno_error("cannot create " + output_file.string(), errno);
  return spawn(command, dev_null.get(), output.get(), output.get());
}

std::string last_lines(std::string_view text, std::size_t count, std::string_view indent)
{
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  std::string out;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out.append(indent).append(lines[i]).append("\n");
  return out;
}

} // namespace dbus_checkpoint::base
