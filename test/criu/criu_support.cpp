// SPDX-License-Identifier: GPL-2.0-or-later
#include "criu_support.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/program.hpp"
#include "checkpoint_calls.hpp"

namespace dcp::test::criu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

CriuRun run_criu(const CommandPrefix &enter, std::vector<std::string> arguments)
{
  std::vector<std::string> command = enter;
  command.push_back(DCP_CRIU_EXECUTABLE);
  command.insert(command.end(), arguments.begin(), arguments.end());
  command.insert(command.end(), {"-L", DCP_CRIU_PLUGIN_DIR, "-v4"});
  auto started = std::chrono::steady_clock::now();
  CriuRun run{run_command(command, 30s), {}};
  run.wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return run;
}

} // namespace

BecomeSubreaper::BecomeSubreaper() { BOOST_REQUIRE_EQUAL(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

WorkDir::WorkDir(const std::string &prefix)
{
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

WorkDir::~WorkDir()
{
  std::error_code ignored;
  if (!std::getenv("DCP_TEST_KEEP_BUS_DIR"))
    fs::remove_all(path_, ignored);
}

bool process_exists(pid_t pid) { return fs::exists("/proc/" + std::to_string(pid)); }

bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout)
{
  return wait_until([&] {
    waitpid(pid, nullptr, WNOHANG);
    return !process_exists(pid);
  }, timeout);
}

RestoredProcess::~RestoredProcess()
{
  if (pid_ <= 0)  // kill(-1) would end every process root may signal
    return;
  kill(pid_, SIGKILL);
  wait_until_gone(pid_, 10s);
}

std::string tail_of(const fs::path &log, std::size_t n_lines)
{
  return "--- last lines of " + log.string() + ":\n" +
         dbus_checkpoint::base::last_lines(read_file(log.string()), n_lines);
}

CriuRun criu_dump(pid_t pid, const fs::path &images, const CommandPrefix &enter)
{
  // With `enter` the path is inside other namespaces: the caller makes it.
  if (enter.empty())
    fs::create_directories(images);
  return run_criu(enter, {"dump", "-t", std::to_string(pid), "-D", images.string(), "-o", "dump.log"});
}

CriuRun criu_restore(const fs::path &images, const CommandPrefix &enter)
{
  return run_criu(enter, {"restore", "-D", images.string(), "-d", "-o", "restore.log"});
}

std::string name_owner(sd_bus *bus, const std::string &name)
{
  CallResult r = call(bus, bus_method("org.freedesktop.DBus", "GetNameOwner"), "s", name.c_str());
  BOOST_REQUIRE_MESSAGE(r.ok(), "GetNameOwner " << name << ": " << r.describe());
  return read_string(r.reply.get());
}

void emit_poke(sd_bus *bus)
{
  BOOST_REQUIRE_GE(sd_bus_emit_signal(bus, "/", kSampleInterface, "Poke", ""), 0);
  BOOST_REQUIRE_GE(sd_bus_flush(bus), 0);
}

SampleOptions named(const std::string &name)
{
  SampleOptions options;
  options.name = name;
  return options;
}

void expect_service_continues(sd_bus *bus, const std::string &name, const std::string &unique_name)
{
  BOOST_TEST(sample_uint64(bus, name, "Increment") == 3u, "memory state continued");
  BOOST_TEST(name_owner(bus, name) == unique_name, "the same connection owns " << name);
  emit_poke(bus);  // same connection: delivered before the next call
  BOOST_TEST(sample_uint64(bus, name, "GetPokes") == 1u, "its match rule still works");
}

CheckpointedService::CheckpointedService(SampleService &service, PrivateSystemBus &bus,
                                         SdBus &admin, const std::string &checkpoint_id,
                                         const std::function<void()> &while_dumped)
    : images(bus.dir() / ("images-" + to_string(service.kind())))
{
  const pid_t pid = service.pid();
  dump = criu_dump(pid, images);
  BOOST_REQUIRE_MESSAGE(dump.result.ok(),
                        "criu dump: " << dump.result.describe() << tail_of(images / "dump.log"));
  // CRIU killed it; the pid must be free again before CRIU can restore it.
  BOOST_REQUIRE(wait_until([&] { return !service.running(); }, 10s));
  BOOST_REQUIRE(wait_until_gone(pid, 10s));
  image_bytes = directory_bytes(images);

  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  // The bus sees the socket close in its own time.
  BOOST_TEST(wait_until([&] { return !list_frozen(admin.get()).at(0).attached; }, 5s),
             "detached once its process is gone");
  CallResult frozen_call = call(admin.get(), sample_method(service.well_known_name(), "Get"));
  BOOST_TEST(frozen_call.error_name == kNameFrozen, frozen_call.describe());
  if (while_dumped)
    while_dumped();

  restore = criu_restore(images);
  if (process_exists(pid))
    restored.emplace(pid);
  BOOST_REQUIRE_MESSAGE(restore.result.ok(), "criu restore: " << restore.result.describe()
                                                              << tail_of(images / "restore.log"));
  BOOST_REQUIRE(process_exists(pid));
  frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].attached, "attached to the restored process's new socket");
  BOOST_TEST(frozen[0].id == checkpoint_id);
  const std::string restore_log = read_file((images / "restore.log").string());
  BOOST_TEST(restore_log.find("reattached to the bus at " + bus.socket_path().string()) !=
                 std::string::npos,
             tail_of(images / "restore.log"));
  BOOST_TEST_MESSAGE(to_string(service.kind())
                     << ": criu dump " << dump.wall.count() << " ms, restore "
                     << restore.wall.count() << " ms, images " << image_bytes / 1024 << " KiB");
}

} // namespace dcp::test::criu
