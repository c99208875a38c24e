// SPDX-License-Identifier: GPL-2.0-or-later
#include "criu-probe/criu_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/child_process.hpp"
#include "base/program.hpp"
#include "base/unique_fd.hpp"

namespace dbus_checkpoint::criu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using base::ChildProcess;
using base::last_lines;
using base::UniqueFd;

constexpr std::size_t kErrorLines = 6;
constexpr std::size_t kTailLines = 12;
constexpr milliseconds kPingTimeout{5'000};

// Why the probe stopped; turned into ProbeResult::message at the edge.
struct ProbeFailure {
  std::string message;
};

std::string system_error(const std::string &what)
{
  return what + ": " + std::strerror(errno);
}

struct Deadline {
  Clock::time_point end;
  milliseconds remaining() const
  {
    auto left = duration_cast<milliseconds>(end - Clock::now());
    return left.count() > 0 ? left : milliseconds{0};
  }
};

std::string format_limit(milliseconds limit)
{
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(limit.count()) / 1000.0);
  return text;
}

std::string read_file(const fs::path &path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs argv (argv[0] a path) in a process group of its own, only fds 0-2
// open; kills the group at the deadline.  Its output is kept in
// `output_file` too, beside the images.
base::ProgramRun run_criu(const std::vector<std::string> &argv, const fs::path &output_file,
                          const Deadline &deadline)
{
  base::ProgramCommand command{argv, {}, deadline.remaining()};
  command.own_process_group = true;
  auto run = base::run_program(command);
  if (!run)
    throw ProbeFailure{run.error().describe()};
  std::ofstream(output_file, std::ios::binary) << run.value().output;
  return std::move(run).value();
}

// The process that is dumped and restored: a session leader holding a UDP
// socket (fd 3) bound on 127.0.0.1 and both ends of a unix socketpair (4, 5).
// It answers each datagram with "echo:" and the datagram, passed through the
// socketpair on the way.
[[noreturn]] void test_process_main(int udp, int pair_in, int pair_out)
{
  ::setsid();
  int keep[3] = {::fcntl(udp, F_DUPFD, 100), ::fcntl(pair_in, F_DUPFD, 100),
                 ::fcntl(pair_out, F_DUPFD, 100)};
  for (int i = 0; i < 3; ++i)
    ::dup2(keep[i], 3 + i);
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd)
    ::dup2(null, fd);
  ::close_range(6, ~0U, 0);
  if (::chdir("/") < 0)
    ::_exit(1);
  for (;;) {
    char datagram[128];
    sockaddr_in from{};
    socklen_t from_length = sizeof from;
    ssize_t got = ::recvfrom(3, datagram, sizeof datagram, 0,
                             reinterpret_cast<sockaddr *>(&from), &from_length);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      ::_exit(2);
    char passed[sizeof datagram + 5] = "echo:";
    if (::write(4, datagram, static_cast<size_t>(got)) != got ||
        ::read(5, passed + 5, sizeof datagram) != got)
      ::_exit(3);
    ::sendto(3, passed, static_cast<size_t>(got) + 5, 0,
             reinterpret_cast<const sockaddr *>(&from), from_length);
  }
}

struct TestProcess {
  ChildProcess process;
  UniqueFd caller;  // our UDP socket for pings
  sockaddr_in address{};
};

TestProcess start_test_process()
{
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!udp)
    throw ProbeFailure{system_error("cannot create a UDP socket")};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(udp.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) < 0 ||
      ::getsockname(udp.get(), reinterpret_cast<sockaddr *>(&address), &length) < 0)
    throw ProbeFailure{system_error("cannot bind a UDP socket on 127.0.0.1")};
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    throw ProbeFailure{system_error("socketpair")};
  UniqueFd pair_in(pair[0]), pair_out(pair[1]);

  TestProcess test;
  test.caller.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  test.address = address;
  if (!test.caller)
    throw ProbeFailure{system_error("cannot create a UDP socket")};
  pid_t pid = ::fork();
  if (pid < 0)
    throw ProbeFailure{system_error("fork")};
  if (pid == 0)
    test_process_main(udp.get(), pair_in.get(), pair_out.get());
  test.process = ChildProcess(pid, false);
  return test;
}

// True when the test process answers `token` within the limit.
bool answers(const TestProcess &test, const std::string &token, milliseconds limit)
{
  if (::sendto(test.caller.get(), token.data(), token.size(), 0,
               reinterpret_cast<const sockaddr *>(&test.address), sizeof test.address) < 0)
    return false;
  const auto end = Clock::now() + limit;
  for (;;) {
    auto left = duration_cast<milliseconds>(end - Clock::now());
    if (left.count() <= 0)
      return false;
    pollfd entry{test.caller.get(), POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char reply[256];
    ssize_t got = ::recv(test.caller.get(), reply, sizeof reply, 0);
    if (got > 0 && std::string(reply, static_cast<size_t>(got)) == "echo:" + token)
      return true;
  }
}

// Keeps PR_SET_CHILD_SUBREAPER on while it lives, so that the process
// `criu restore -d` leaves behind becomes our child (and is reaped by us).
class SubreaperScope {
 public:
  SubreaperScope()
  {
    int was = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &was, 0, 0, 0);
    previous_ = was;
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }
  ~SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, previous_, 0, 0, 0); }
  SubreaperScope(const SubreaperScope &) = delete;
  SubreaperScope &operator=(const SubreaperScope &) = delete;

 private:
  int previous_ = 0;
};

// The process `criu restore` left behind, once it is our child (we are a
// subreaper); nothing when there is none, so that no stranger is killed.
ChildProcess adopt_restored(pid_t pid)
{
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("PPid:", 0) == 0)
      return std::stol(line.substr(5)) == ::getpid() ? ChildProcess(pid, false) : ChildProcess();
  return ChildProcess();
}

class Probe {
 public:
  explicit Probe(const ProbeOptions &options)
      : options_(options), deadline_{Clock::now() + options.time_limit}
  {
  }

  ProbeResult run();

 private:
  std::string criu_name() const
  {
    return "criu " + (result_.version ? result_.version->str() : std::string("?")) + " (" +
           options_.executable + ")";
  }
  std::string with_advice(std::string message) const
  {
    if (!options_.advice.empty())
      message += " -- " + options_.advice;
    return message;
  }
  std::string log_of(const std::string &name) const
  {
    const fs::path path = result_.images_dir / name;
    return describe_log(read_file(path), path.string(), kErrorLines, kTailLines);
  }
  void read_version();
  void make_images_dir();
  void criu_step(const std::string &action, const std::string &doing,
                 const std::vector<std::string> &arguments, milliseconds *took);

  const ProbeOptions &options_;
  Deadline deadline_;
  ProbeResult result_;
};

void Probe::read_version()
{
  const fs::path output = result_.images_dir / "version.out";
  base::ProgramRun end = run_criu({options_.executable, "--version"}, output, deadline_);
  if (end.timed_out)
    throw ProbeFailure{with_advice(options_.executable + " --version did not answer in " +
                                   format_limit(options_.time_limit))};
  if (!end.succeeded())
    throw ProbeFailure{with_advice(options_.executable + " --version failed (" +
                                   end.describe_end(options_.time_limit) +
                                   ")" + (end.output.empty() ? "" : ": " + end.output))};
  result_.version = parse_version(end.output);
  if (!result_.version)
    throw ProbeFailure{with_advice(options_.executable + " --version printed no version: " +
                                   end.output)};
}

void Probe::make_images_dir()
{
  fs::path base = options_.work_dir;
  if (base.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = (base / "dcp-criu-probe.XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw ProbeFailure{system_error("cannot make a scratch directory in " + base.string())};
  result_.images_dir = pattern;
}

void Probe::criu_step(const std::string &action, const std::string &doing,
                      const std::vector<std::string> &arguments, milliseconds *took)
{
  std::vector<std::string> argv = {options_.executable, action, "-D", result_.images_dir.string(),
                                   "-v4", "-o", action + ".log"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const auto started = Clock::now();
  base::ProgramRun end = run_criu(argv, result_.images_dir / (action + ".out"), deadline_);
  *took = duration_cast<milliseconds>(Clock::now() - started);
  if (end.timed_out) {
    std::string message = criu_name() + " did not finish " + doing + " in " +
                          format_limit(options_.time_limit);
    if (result_.version && *result_.version < kMinimumVersion)
      message += "; CRIU < 4.2 hangs where hardware breakpoints are not virtualized";
    throw ProbeFailure{with_advice(message) + log_of(action + ".log")};
  }
  if (!end.succeeded()) {
    std::string message = criu_name() + " failed: " + doing + " ended with " + end.describe_end(options_.time_limit);
    if (const std::string old = why_too_old(*result_.version); !old.empty())
      message += "; " + old;
    std::string log = log_of(action + ".log");
    if (log.empty() && !end.output.empty())
      log = "; its output:\n" + last_lines(end.output, kTailLines, "  ");
    throw ProbeFailure{with_advice(message) + log};
  }
}

ProbeResult Probe::run()
{
  const auto started = Clock::now();
  try {
    if (options_.executable.empty() || ::access(options_.executable.c_str(), X_OK) < 0)
      throw ProbeFailure{with_advice(system_error("cannot run criu at '" + options_.executable +
                                                  "'"))};
    make_images_dir();
    read_version();

    SubreaperScope subreaper;
    TestProcess test = start_test_process();
    const pid_t pid = test.process.pid();
    if (!answers(test, "before-dump", std::min(kPingTimeout, deadline_.remaining())))
      throw ProbeFailure{"the probe's test process (pid " + std::to_string(pid) +
                         ") did not answer before the dump"};

    criu_step("dump", "a dump of a test process (a session leader with a unix socketpair and "
                      "a UDP socket)",
              {"-t", std::to_string(pid)}, &result_.dump_time);
    if (!test.process.wait_for(deadline_.remaining()))
      throw ProbeFailure{criu_name() + " dumped the test process (pid " + std::to_string(pid) +
                         ") but left it running"};

    try {
      criu_step("restore", "restoring the test process", {"-d"}, &result_.restore_time);
    } catch (const ProbeFailure &) {
      adopt_restored(pid).kill_and_reap();  // what a failed restore may have left
      throw;
    }
    test.process = adopt_restored(pid);
    if (test.process.pid() < 0)
      throw ProbeFailure{with_advice(criu_name() + " said it restored the test process (pid " +
                                     std::to_string(pid) + ") but it is not running") +
                         log_of("restore.log")};
    if (!answers(test, "after-restore", std::min(kPingTimeout, deadline_.remaining())))
      throw ProbeFailure{with_advice(criu_name() + " restored the test process (pid " +
                                     std::to_string(pid) +
                                     ") but it does not answer over its UDP socket and "
                                     "socketpair") +
                         log_of("restore.log")};
    test.process.kill_and_reap();

    result_.works = true;
    result_.total_time = duration_cast<milliseconds>(Clock::now() - started);
    result_.message = criu_name() + " works: dumped and restored a test process (unix "
                      "socketpair, UDP socket) in " +
                      std::to_string(result_.total_time.count()) + " ms (dump " +
                      std::to_string(result_.dump_time.count()) + " ms, restore " +
                      std::to_string(result_.restore_time.count()) + " ms; limit " +
                      format_limit(options_.time_limit) + ")";
    if (!options_.keep_images) {
      std::error_code ignored;
      fs::remove_all(result_.images_dir, ignored);
      result_.images_dir.clear();
    }
  } catch (const ProbeFailure &failure) {
    result_.works = false;
    result_.message = failure.message;
    if (result_.message.ends_with('\n'))
      result_.message.pop_back();
    if (!result_.images_dir.empty())
      result_.message += "\n(images and logs kept in " + result_.images_dir.string() + ")";
    result_.total_time = duration_cast<milliseconds>(Clock::now() - started);
  }
  return result_;
}

} // namespace

ProbeResult probe(const ProbeOptions &options)
{
  Probe probe(options);
  return probe.run();
}

} // namespace dbus_checkpoint::criu
