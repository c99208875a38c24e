// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/lazy_dump.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/program.hpp"
#include "cli/files.hpp"
#include "criu-probe/criu_output.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

// "criu dump --lazy-pages WHAT" with the errors and last lines of DIR/dump.log.
Error dump_error(const fs::path &dir, const std::string &what)
{
  const fs::path log_path = dir / "dump.log";
  auto log = read_whole_file(log_path);
  std::string message = "criu dump --lazy-pages " + what;
  if (log)
    message += criu::describe_log(log.value(), log_path.string(), kLogErrorLines, kLogTailLines);
  if (message.ends_with('\n'))
    message.pop_back();
  return Error{"", message};
}

std::chrono::milliseconds left_until(Clock::time_point deadline)
{
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
}

} // namespace

Result<ServingDump> dump_serving_pages(const CriuSetup &setup, const fs::path &dir,
                                       std::vector<std::string> arguments,
                                       const std::string &address, std::uint16_t port)
{
  auto pipe = base::make_pipe();
  if (!pipe)
    return pipe.error();
  base::UniqueFd ready_read = std::move(pipe.value().read_end);
  base::UniqueFd ready_write = std::move(pipe.value().write_end);
  arguments.insert(arguments.end(), {"--lazy-pages", "--address", address, "--port",
                                     std::to_string(port), "--status-fd", "3"});
  ServingDump dump;
  dump.started = Clock::now();
  auto started = start_criu(setup, "dump", dir, arguments, /*in_new_session=*/false,
                            ready_write.get());
  if (!started)
    return started.error();
  dump.criu = std::move(started).value();
  ready_write.reset();  // criu holds the only write end: its end closes the pipe

  const auto deadline = dump.started + setup.timeout;
  for (;;) {
    pollfd ready{ready_read.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left_until(deadline).count()));
    if (polled < 0 && errno != EINTR)
      return Error{"", std::string("poll: ") + std::strerror(errno)};
    char byte = 1;
    if (polled > 0 && ::read(ready_read.get(), &byte, 1) == 1) {
      dump.until_serving = Clock::now() - dump.started;
      return dump;
    }
    if (polled > 0) {  // closed without a byte: criu ended
      auto status = dump.criu.wait_for(std::chrono::seconds(5));
      return dump_error(dir, "failed before it served the pages (" +
                                 (status ? describe_wait_status(*status) : std::string("no end")) +
                                 ")");
    }
    if (Clock::now() >= deadline) {
      dump.criu.kill_and_reap();
      return dump_error(dir, "did not serve the pages within --criu-timeout (" +
                                 std::to_string(setup.timeout.count()) + " s)");
    }
  }
}

Result<Clock::duration> wait_until_pages_fetched(ServingDump &dump, const CriuSetup &setup,
                                                 const fs::path &dir)
{
  const auto status = dump.criu.wait_for(left_until(dump.started + setup.timeout));
  if (!status) {
    dump.criu.kill_and_reap();
    return dump_error(dir, "was still serving pages at --criu-timeout (" +
                               std::to_string(setup.timeout.count()) + " s): killed");
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    return dump_error(dir, "failed while it served the pages (" + describe_wait_status(*status) +
                               ")");
  return Clock::now() - dump.started;
}

} // namespace dbus_checkpoint::cli
