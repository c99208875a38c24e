// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-criu-rpc: what a restore would save if CRIU were not exec'ed
// for it.  Issue 13 asks whether driving CRIU through its RPC (images/
// rpc.proto, as runc and podman do) pays CRIU's start-up once instead of
// at every restore.  One image set of a small process without a bus (this
// program as --counter: a 4 MiB heap, a counter printed every 20 ms) is
// restored run after run, the variants interleaved:
//   - exec: `criu restore -d -D DIR -L PLUGINS` forked and exec'ed, to its
//     exit: what dbus-checkpoint restore does today;
//   - swrk: `criu swrk 3` on a socketpair, started 200 ms before the clock
//     (a worker serves one restore); from the RESTORE request to its answer;
//   - service: `criu service --address SOCK` started once; connect, the
//     request, its answer (the service forks a worker for each).
// The RPC variants load our plugin through an RPC config file (libdir): a
// service's worker forgets the service's own -L.  Every restore must bring
// back the dumped pid, whose counter goes on.  The saving is exec's time
// minus each RPC variant's, paired within each run.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/program.hpp"
#include "base/unique_fd.hpp"
#include "bench_support.hpp"
#include "criu_support.hpp"
#include "rpc.pb.h"

using namespace dcp::bench;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace base = dbus_checkpoint::base;
namespace criu_test = dcp::test::criu;
using dcp::test::wait_until;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-criu-rpc [--runs N] [--json FILE]
CRIU restore exec'ed per restore (today's path) vs driven through its RPC:
a `criu swrk` worker started ahead of time, and a running `criu service`.
One small process without a bus (4 MiB heap) is dumped once and restored
N times per variant (>= 5, default 15), interleaved; each restore must bring
it back with its pid and counter.  --json appends the figures to FILE;
--scale is accepted and ignored.  Needs root (CRIU does).
)";

// --counter: what is dumped and restored.  Prints "N" every 20 ms to its
// stdout (a file), with 4 MiB of heap touched, until killed.
[[noreturn]] void run_counter()
{
  std::vector<char> heap(4 << 20);
  for (std::size_t i = 0; i < heap.size(); i += 4096)
    heap[i] = static_cast<char>(i);
  for (unsigned long n = 1;; ++n) {
    std::printf("%lu\n", n);
    std::fflush(stdout);
    std::this_thread::sleep_for(20ms);
  }
}

unsigned long last_count(const fs::path &output)
{
  std::ifstream in(output);
  unsigned long last = 0;
  for (unsigned long n; in >> n;)
    last = n;
  return last;
}

// The restored counter runs as pid, and counts on from where it was.
void check_restored(pid_t pid, const fs::path &output, unsigned long dumped_at)
{
  if (!criu_test::process_exists(pid))
    throw std::runtime_error("pid " + std::to_string(pid) + " is not running after the restore");
  const bool counting = wait_until([&] { return last_count(output) > dumped_at; }, 2s);
  if (!counting)
    throw std::runtime_error("the restored counter did not go on from " + std::to_string(dumped_at));
}

// One RESTORE request over `socket`, timed to its answer; throws with
// CRIU's reason and log if the restore failed.
double restore_over_rpc(int socket, int images_fd, const std::string &log_name,
                        const fs::path &config, const fs::path &images, pid_t expected_pid)
{
  criu_req request;
  request.set_type(RESTORE);
  criu_opts *opts = request.mutable_opts();
  opts->set_images_dir_fd(images_fd);
  opts->set_log_file(log_name);
  opts->set_log_level(4);
  opts->set_config_file(config.string());
  std::string bytes;
  if (!request.SerializeToString(&bytes))
    throw std::runtime_error("cannot serialize the RESTORE request");

  const auto started = Clock::now();
  if (::send(socket, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error(std::string("send to criu: ") + std::strerror(errno));
  std::vector<char> answer(64 * 1024);
  const ssize_t n = ::recv(socket, answer.data(), answer.size(), 0);
  const double elapsed = milliseconds_between(started, Clock::now());
  if (n <= 0)
    throw std::runtime_error("criu did not answer: " +
                             std::string(n == 0 ? "end of stream" : std::strerror(errno)));
  criu_resp response;
  if (!response.ParseFromArray(answer.data(), static_cast<int>(n)))
    throw std::runtime_error("criu's answer does not parse");
  if (!response.success() || response.type() != RESTORE)
    throw std::runtime_error("criu's RPC restore failed (errno " +
                             std::to_string(response.cr_errno()) + ": " + response.cr_errmsg() +
                             ")\n" + criu_test::tail_of(images / log_name));
  if (!response.has_restore() || response.restore().pid() != expected_pid)
    throw std::runtime_error("criu restored pid " + std::to_string(response.restore().pid()) +
                             ", not " + std::to_string(expected_pid));
  return elapsed;
}

base::ChildProcess start_or_throw(const base::ProgramCommand &command, const fs::path &output)
{
  auto started = base::start_program(command, output);
  if (!started)
    throw std::runtime_error(started.error().message);
  return std::move(started).value();
}

struct Variants {
  Samples exec, swrk, service, swrk_saving, service_saving;
};

void bench(const BenchOptions &options)
{
  become_criu_parent();
  criu_test::WorkDir work("dcp-bench-criu-rpc");
  const fs::path images = work.path() / "images";
  const fs::path counter_output = work.path() / "counter.out";
  const fs::path config = work.path() / "rpc.conf";
  fs::create_directories(images);
  std::ofstream(config) << "libdir " << DCP_CRIU_PLUGIN_DIR << "\n";

  // The process, dumped once.
  base::ProgramCommand counter_command;
  counter_command.argv = {fs::read_symlink("/proc/self/exe").string(), "--counter"};
  counter_command.new_session = true;
  base::ChildProcess counter = start_or_throw(counter_command, counter_output);
  const pid_t pid = counter.pid();
  if (!wait_until([&] { return last_count(counter_output) >= 3; }, 5s))
    throw std::runtime_error("the counter did not start");
  criu_test::CriuRun dump = criu_test::criu_dump(pid, images);
  if (!dump.result.ok())
    throw std::runtime_error("criu dump failed: " + dump.result.describe() + "\n" +
                             criu_test::tail_of(images / "dump.log"));
  (void)counter.wait_for(5s);
  const unsigned long dumped_at = last_count(counter_output);
  // CRIU restores its stdout only at the size it had: what each restored
  // counter wrote is cut off again before the next restore.
  const std::uintmax_t dumped_size = fs::file_size(counter_output);
  if (!criu_test::wait_until_gone(pid, 5s))
    throw std::runtime_error("the dumped counter is still there");

  const base::UniqueFd images_fd(::open(images.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!images_fd)
    throw std::runtime_error("open " + images.string() + ": " + std::strerror(errno));

  // The service, once, with its own log; its workers' logs go to the images.
  const fs::path service_socket = work.path() / "criu-service.sock";
  base::ProgramCommand service_command;
  service_command.argv = {DCP_CRIU_EXECUTABLE, "service", "--address", service_socket.string(),
                          "-v4", "-o", (work.path() / "service.log").string()};
  service_command.new_session = true;
  base::ChildProcess service = start_or_throw(service_command, work.path() / "service.out");
  if (!wait_until([&] { return fs::exists(service_socket); }, 5s))
    throw std::runtime_error("criu service did not listen on " + service_socket.string());

  // Each restored process is killed and gone (its pid free again) before
  // the next restore.
  const auto restored_then_killed = [&] {
    check_restored(pid, counter_output, dumped_at);
    ::kill(pid, SIGKILL);
    if (!criu_test::wait_until_gone(pid, 10s))
      throw std::runtime_error("the restored counter did not go away");
    fs::resize_file(counter_output, dumped_size);
  };
  const auto run_exec = [&] {
    const auto started = Clock::now();
    criu_test::CriuRun run = criu_test::criu_restore(images);
    const double ms = milliseconds_between(started, Clock::now());
    if (!run.result.ok())
      throw std::runtime_error("criu restore failed: " + run.result.describe() + "\n" +
                               criu_test::tail_of(images / "restore.log"));
    restored_then_killed();
    return ms;
  };
  const auto run_swrk = [&] {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
      throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
    base::UniqueFd ours(pair[0]), worker_end(pair[1]);
    base::ProgramCommand worker_command;
    worker_command.argv = {DCP_CRIU_EXECUTABLE, "swrk", "3"};
    worker_command.new_session = true;
    worker_command.status_fd = worker_end.get();
    base::ChildProcess worker = start_or_throw(worker_command, work.path() / "swrk.out");
    worker_end.reset();
    std::this_thread::sleep_for(200ms);  // its start-up, off the clock
    const double ms =
        restore_over_rpc(ours.get(), images_fd.get(), "restore-swrk.log", config, images, pid);
    ours.reset();  // the worker ends when its socket closes
    (void)worker.wait_for(5s);
    restored_then_killed();
    return ms;
  };
  const auto run_service = [&] {
    const auto started = Clock::now();
    base::UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, service_socket.c_str(), sizeof address.sun_path - 1);
    if (!socket || ::connect(socket.get(), reinterpret_cast<sockaddr *>(&address),
                             sizeof address) != 0)
      throw std::runtime_error(std::string("connect to criu service: ") + std::strerror(errno));
    restore_over_rpc(socket.get(), images_fd.get(), "restore-service.log", config, images, pid);
    const double ms = milliseconds_between(started, Clock::now());
    restored_then_killed();
    return ms;
  };

  Variants variants;
  const unsigned runs = options.runs;
  for (unsigned run = 0; run < runs; ++run) {
    progress("run " + std::to_string(run + 1) + " of " + std::to_string(runs));
    double exec_ms = 0, swrk_ms = 0, service_ms = 0;
    // the order turns from run to run: no variant always follows another
    for (unsigned step = 0; step < 3; ++step) {
      switch ((run + step) % 3) {
      case 0: exec_ms = run_exec(); break;
      case 1: swrk_ms = run_swrk(); break;
      default: service_ms = run_service(); break;
      }
    }
    variants.exec.add(exec_ms);
    variants.swrk.add(swrk_ms);
    variants.service.add(service_ms);
    variants.swrk_saving.add(exec_ms - swrk_ms);
    variants.service_saving.add(exec_ms - service_ms);
  }
  ::kill(service.pid(), SIGTERM);
  (void)service.wait_for(5s);

  Report report(options);
  const std::string group = "criu-rpc";
  report.add({group, "criu restore, exec'ed (today)", "counter", "ms", variants.exec});
  report.add({group, "criu swrk started before, request to answer", "counter", "ms",
              variants.swrk});
  report.add({group, "criu service, connect to answer", "counter", "ms", variants.service});
  report.add({group, "saved by swrk (exec - swrk, same run)", "counter", "ms",
              variants.swrk_saving});
  report.add({group, "saved by service (exec - service, same run)", "counter", "ms",
              variants.service_saving});
  report.add_note(group, "The RPC paths keep criu's work inside its log (capability checks, kernel "
                         "features, the plugin's load): only exec, the dynamic loader and "
                         "criu's argument parsing and exit are saved.  A swrk worker serves one "
                         "restore; the plugin's bus settings come from its environment, fixed "
                         "when it starts.");
  report.print_table("CRIU restore: exec'ed vs through its RPC (one process, 4 MiB heap, no bus)",
                     group);
}

} // namespace

int main(int argc, char **argv)
{
  if (argc == 2 && std::string(argv[1]) == "--counter")
    run_counter();
  return run_benchmark("dcp-bench-criu-rpc", [&] {
    bench(parse_bench_options(argc, argv, kUsage, /*default_runs=*/15));
  });
}
