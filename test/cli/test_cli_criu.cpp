// SPDX-License-Identifier: GPL-2.0-or-later
// `dbus-checkpoint checkpoint` and `restore` as administrators run them:
// the built binary, real CRIU with our plugin, our patched daemon as a
// private system bus, the sample services of each client library.  Root
// only, like CRIU.
//
// A dumped service is this test's child: the test reaps it (restore waits
// for its pid to be free).  The test is a child subreaper, so what CRIU
// restores becomes its child when criu exits, and RestoredProcess
// (test/criu's support) kills it and waits until it is gone.
#define BOOST_TEST_MODULE cli_criu
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/mount.h>
#include <cstring>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "cli_support.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using criu::emit_poke;
using criu::name_owner;
using criu::RestoredProcess;
using criu::BecomeSubreaper;

constexpr auto kCliTimeout = 90s;

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

// A small tmpfs on `dir`, unmounted when this goes: a dump into it runs
// out of space half-way.
class TinyTmpfs {
 public:
  TinyTmpfs(const fs::path &dir, const std::string &size) : dir_(dir)
  {
    fs::create_directories(dir);
    const std::string options = "size=" + size + ",mode=0700";
    BOOST_REQUIRE_MESSAGE(mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0,
                          "mount tmpfs on " << dir << ": " << std::strerror(errno));
  }
  ~TinyTmpfs() { umount2(dir_.c_str(), MNT_DETACH); }
  TinyTmpfs(const TinyTmpfs &) = delete;
  TinyTmpfs &operator=(const TinyTmpfs &) = delete;

 private:
  fs::path dir_;
};

std::size_t image_count(const fs::path &dir)
{
  std::size_t count = 0;
  for (const auto &entry : fs::directory_iterator(dir))
    count += entry.path().extension() == ".img";
  return count;
}

double elapsed_ms(std::chrono::steady_clock::time_point since)
{
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

struct Fixture {
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  fs::path images = bus.dir() / "images";

  CommandResult cli(const std::vector<std::string> &arguments)
  {
    return run_cli(arguments, {}, kCliTimeout);
  }

  CommandResult must_run(const std::vector<std::string> &arguments)
  {
    CommandResult r = cli(arguments);
    BOOST_REQUIRE_MESSAGE(r.ok(), arguments.at(0) << ": " << r.describe()
                                                  << "\n--- daemon log ---\n" << bus.log());
    return r;
  }

  // checkpoint --json of the service; then reaps it (criu dump ended it).
  CommandResult checkpoint(SampleService &service)
  {
    CommandResult r = must_run(
        {"checkpoint", "--json", service.well_known_name(), "-D", images.string()});
    BOOST_REQUIRE(wait_until([&] { return !service.running(); }, 10s));
    return r;
  }

  CommandResult restore() { return must_run({"restore", "--json", "-D", images.string()}); }

  std::uint64_t increment(const std::string &name)
  {
    return sample_uint64(admin.get(), name, "Increment");
  }

  CallResult call_sample(const std::string &name, const char *member)
  {
    return call(admin.get(), sample_method(name, member));
  }

  // The bus dies with every client (SIGKILL, as a crash or power cut), and
  // a new daemon starts on its state directory, emptied first if
  // `lose_records`.
  void restart_bus(bool lose_records)
  {
    admin.reset();
    bus.kill_hard();
    if (lose_records)
      fs::remove_all(bus.checkpoint_dir());
    bus.start();
    admin = open_system_bus();
  }

};

} // namespace

BOOST_DATA_TEST_CASE_F(Fixture, checkpoint_and_restore_continue_the_service,
                       boost::unit_test::data::make(all_sample_kinds()), kind)
{
  SampleService service(kind, bus);
  const pid_t pid = service.pid();
  const std::string name = service.well_known_name();
  const std::string unique_name = service.unique_name();
  for (std::uint64_t expected = 1; expected <= 3; ++expected)
    BOOST_TEST(increment(name) == expected);
  emit_poke(admin.get());
  BOOST_REQUIRE(wait_until([&] { return sample_uint64(admin.get(), name, "GetPokes") == 1u; }, 5s));

  auto started = std::chrono::steady_clock::now();
  CommandResult dumped = checkpoint(service);
  const double checkpoint_wall_ms = elapsed_ms(started);
  BOOST_TEST(json_query(dumped.out, "d['pid']") == std::to_string(pid));
  BOOST_TEST(json_query(dumped.out, "len(d['connections'])") == "1");
  BOOST_TEST(json_query(dumped.out, "d['connections'][0]['unique_name']") == unique_name);
  BOOST_TEST(json_query(dumped.out, "d['connections'][0]['names']") == "['" + name + "']");
  BOOST_TEST(json_query(dumped.out, "d['image_bytes'] > 0") == "True");
  const std::string id = json_query(dumped.out, "d['connections'][0]['id']");
  BOOST_TEST(is_checkpoint_id(id));
  BOOST_TEST(fs::exists(images / "dbus-checkpoint.json"));

  // While it is dumped: callers get NameFrozen, the bus keeps its names.
  CallResult refused = call_sample(name, "Increment");
  BOOST_TEST(refused.error_name == kNameFrozen, refused.describe());
  auto frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(frozen[0].id == id);
  BOOST_TEST(!frozen[0].attached, "its socket closed with the dump");
  emit_poke(admin.get());  // queued for it

  started = std::chrono::steady_clock::now();
  CommandResult restored = restore();
  const double restore_wall_ms = elapsed_ms(started);
  RestoredProcess restored_process(pid);
  BOOST_TEST(json_query(restored.out, "d['ids']") == "['" + id + "']");
  BOOST_TEST(json_query(restored.out, "d['pid']") == std::to_string(pid));

  BOOST_TEST(criu::process_exists(pid), "restored under its pid");
  BOOST_TEST(name_owner(admin.get(), name) == unique_name, "the same connection owns the name");
  BOOST_TEST(increment(name) == 4u, "the counter continues");
  BOOST_TEST(list_frozen(admin.get()).empty());
  BOOST_TEST(wait_until([&] { return sample_uint64(admin.get(), name, "GetPokes") == 2u; }, 5s),
             "its match rule still holds and the queued signal arrived once");

  // The figures, read before logging (a check inside a log line hides it).
  const std::string timings =
      "checkpoint " + std::to_string(checkpoint_wall_ms) + " ms wall (freeze " +
      json_query(dumped.out, "d['freeze_ms']") + " ms, criu dump " +
      json_query(dumped.out, "d['dump_ms']") + " ms, images " +
      json_query(dumped.out, "d['image_bytes'] // 1024") + " KiB); restore " +
      std::to_string(restore_wall_ms) + " ms wall (wait " +
      json_query(restored.out, "d['wait_ms']") + " ms, criu restore " +
      json_query(restored.out, "d['restore_ms']") + " ms, thaw " +
      json_query(restored.out, "d['thaw_ms']") + " ms); cold start " +
      std::to_string(service.startup_time().count()) + " ms";
  BOOST_TEST_MESSAGE(kind << ": " << timings);
}

BOOST_FIXTURE_TEST_CASE(text_output_says_what_was_done, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const pid_t pid = service.pid();
  CommandResult dumped = must_run({"checkpoint", service.well_known_name(), "-D", images.string()});
  BOOST_REQUIRE(wait_until([&] { return !service.running(); }, 10s));
  BOOST_TEST(is_checkpoint_id(first_line(dumped.out)), "the id on stdout: " << dumped.out);
  for (const std::string &expected :
       {"checkpoint of pid " + std::to_string(pid), std::string("froze 1 bus connection in "),
        service.unique_name(), std::string("dumped by criu in "), std::string(" of images"),
        "dbus-checkpoint restore -D " + images.string()})
    BOOST_TEST(dumped.err.find(expected) != std::string::npos, expected << " in\n" << dumped.err);

  CommandResult restored = must_run({"restore", "-D", images.string()});
  RestoredProcess restored_process(pid);
  for (const char *expected : {"waited ", "restored by criu in ", "thawed 1 bus connection in ",
                               "done in ", "(wait "})
    BOOST_TEST(restored.err.find(expected) != std::string::npos, expected << " in\n"
                                                                          << restored.err);
  BOOST_TEST(increment(service.well_known_name()) == 1u);
}

BOOST_FIXTURE_TEST_CASE(checkpoint_by_pid, Fixture)
{
  SampleService service(SampleKind::GDBus, bus);
  const pid_t pid = service.pid();
  BOOST_TEST(increment(service.well_known_name()) == 1u);
  CommandResult dumped =
      must_run({"checkpoint", "--json", "--pid", std::to_string(pid), "-D", images.string(),
                "--plugin-dir", DCP_CRIU_PLUGIN_DIR, "--criu", DCP_CRIU_EXECUTABLE});
  BOOST_REQUIRE(wait_until([&] { return !service.running(); }, 10s));
  BOOST_TEST(json_query(dumped.out, "d['connections'][0]['unique_name']") ==
             service.unique_name());
  restore();
  RestoredProcess restored_process(pid);
  BOOST_TEST(increment(service.well_known_name()) == 2u);
}

// What checkpoint checks before it freezes anything.
BOOST_FIXTURE_TEST_CASE(refusals_before_the_freeze_change_nothing, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  auto refused = [&](const std::vector<std::string> &arguments, const std::string &expected) {
    CommandResult r = cli(arguments);
    BOOST_TEST(r.exit_status == 1, r.describe());
    BOOST_TEST(r.err.find(expected) != std::string::npos, r.err);
    BOOST_TEST(list_frozen(admin.get()).empty(), "nothing was frozen");
  };
  refused({"checkpoint", name, "-D", images.string(), "--criu", "/nonexistent/criu"},
          "cannot run CRIU at '/nonexistent/criu' (--criu PATH chooses another): No such file "
          "or directory");
  refused({"checkpoint", name, "-D", images.string(), "--plugin-dir",
           (bus.dir() / "no-plugins").string()},
          "the CRIU plugin directory " + (bus.dir() / "no-plugins").string() + " does not exist");
  fs::create_directories(images);
  std::ofstream(images / "dbus-checkpoint.json") << "{}";
  refused({"checkpoint", name, "-D", images.string()},
          images.string() + " holds a checkpoint already");
  refused({"checkpoint", "org.dbuscheckpoint.Nobody", "-D", (bus.dir() / "x").string()},
          "cannot find the process of org.dbuscheckpoint.Nobody: ");
  BOOST_TEST(increment(name) == 1u, "the service still answers");
}

// Started without setsid, as a shell or the bus's activation helper starts
// a service: it shares its starter's session (here a shell that leads one,
// so the session's leader is in our pid namespace wherever the tests run).
// It is dumped as a shell job and restored into a session of its own.
BOOST_FIXTURE_TEST_CASE(a_service_in_its_starters_session_is_restored_into_its_own, Fixture)
{
  const fs::path ready = bus.dir() / "in-session.ready";
  const fs::path pid_file = bus.dir() / "in-session.pid";
  const std::string name = "org.dbuscheckpoint.InSession";
  std::vector<std::string> argv = {"/bin/sh", "-c", R"(pid_file=$1; shift; "$@" & echo $! >"$pid_file"; wait)",
                                   "sh", pid_file.string()};
  for (const std::string &word : sample_command(SampleKind::SdBus))
    argv.push_back(word);
  argv.insert(argv.end(), {"--name", name, "--ready-file", ready.string()});
  ChildProcess starter(argv, (bus.dir() / "in-session.log").string(), /*new_session=*/true);
  BOOST_REQUIRE(wait_until(
      [&] { return (fs::exists(ready) && !read_file(pid_file).empty()) || !starter.running(); }, 10s));
  const pid_t pid = std::stoi(read_file(pid_file));
  BOOST_REQUIRE_EQUAL(getsid(pid), starter.pid());
  BOOST_TEST(increment(name) == 1u);

  CommandResult dumped = must_run({"checkpoint", "--json", name, "-D", images.string()});
  BOOST_TEST(json_query(dumped.out, "'--shell-job' in d['criu_options']") == "True", dumped.out);
  BOOST_REQUIRE(wait_until([&] { return !starter.running(); }, 10s));
  CommandResult restored = restore();
  RestoredProcess restored_process(pid);
  BOOST_TEST(increment(name) == 2u, "the same process answers on: " << restored.err);
  BOOST_TEST(getsid(pid) != starter.pid(), "not in its starter's session");
  BOOST_TEST(getsid(pid) > 0);
  BOOST_TEST(getsid(pid) != pid, "in criu's session, whose leader is gone");
}

BOOST_FIXTURE_TEST_CASE(a_dump_that_fails_half_way_thaws_the_service, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  BOOST_TEST(increment(name) == 1u);
  SignalCollector thawed_signals(admin.get(),
                                 "type='signal',interface='org.freedesktop.DBus.Checkpoint',"
                                 "member='NameThawed',arg0='" + name + "'");

  // Images that do not fit: criu dump runs out of space while writing them.
  {
    TinyTmpfs small(images, "64k");
    CommandResult r = cli({"checkpoint", name, "-D", images.string()});
    BOOST_TEST(r.exit_status == 1, r.describe());
    BOOST_TEST(r.err.find("criu dump failed (exit status 1): no space left in " + images.string()) !=
                   std::string::npos,
               r.err);
    BOOST_TEST(r.err.find("1 bus connection thawed again") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("keeps running") != std::string::npos, r.err);
    BOOST_TEST_MESSAGE("out of space: " << r.err);
  }
  BOOST_TEST(service.running());
  BOOST_TEST(list_frozen(admin.get()).empty());
  BOOST_TEST(name_owner(admin.get(), name) == service.unique_name(), "it keeps its name");
  BOOST_TEST(increment(name) == 2u, "and continues");
  BOOST_TEST(thawed_signals.wait_for(1, 5s), "peers saw it thaw");

  // CRIU dumped everything (and left the service running) but failed.
  const fs::path wrapper = bus.dir() / "criu-then-fail";
  std::ofstream(wrapper) << "#!/bin/sh\n[ \"$1\" = --version ] && exec \"" << DCP_CRIU_EXECUTABLE
                         << "\" --version\n\"" << DCP_CRIU_EXECUTABLE << "\" \"$@\" --leave-running\n"
                         << "echo \"criu-then-fail: criu said $?, failing anyway\" >&2\nexit 1\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const fs::path images2 = bus.dir() / "images2";
  CommandResult r = cli({"checkpoint", name, "-D", images2.string(), "--criu", wrapper.string()});
  BOOST_TEST(r.exit_status == 1, r.describe());
  BOOST_TEST(r.err.find("criu dump failed (exit status 1); the last lines of " +
                        (images2 / "dump.log").string()) != std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("Dumping finished successfully") != std::string::npos, r.err);
  BOOST_TEST(!fs::exists(images2 / "dbus-checkpoint.json"), "no checkpoint to restore");
  BOOST_TEST(service.running());
  BOOST_TEST(list_frozen(admin.get()).empty());
  BOOST_TEST(name_owner(admin.get(), name) == service.unique_name());
  BOOST_TEST(increment(name) == 3u);
}

// A restored process that dies at once (here a criu wrapper SIGKILLs it as
// soon as criu restore has returned, as SIGXFSZ killed rtkit-daemon before
// CRIU logged through a pipe): restore says which process and how it ended,
// the connection stays frozen and detached, the checkpoint is not marked
// restored, and the next restore brings the service back.
BOOST_FIXTURE_TEST_CASE(a_process_that_dies_right_after_restore_can_be_restored_again, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  BOOST_TEST(increment(name) == 1u);
  const pid_t pid = service.pid();
  checkpoint(service);

  const fs::path wrapper = bus.dir() / "criu-then-kill";
  std::ofstream(wrapper) << "#!/bin/sh\n[ \"$1\" = restore ] || exec \"" << DCP_CRIU_EXECUTABLE
                         << "\" \"$@\"\n\"" << DCP_CRIU_EXECUTABLE << "\" \"$@\" || exit\nkill -KILL "
                         << pid << "\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  CommandResult r = cli({"restore", "-D", images.string(), "--criu", wrapper.string()});
  BOOST_TEST(r.exit_status == 1, r.describe());
  BOOST_TEST(r.err.find("pid " + std::to_string(pid) +
                        " (dcp-sample-sdbu) exited right after restore: killed by signal 9 (Killed)") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("stay frozen and detached") != std::string::npos, r.err);
  BOOST_TEST(criu::wait_until_gone(pid, 10s));
  const std::vector<FrozenEntry> frozen = list_frozen(admin.get());
  BOOST_REQUIRE_EQUAL(frozen.size(), 1u);
  BOOST_TEST(!frozen[0].attached);
  CallResult meanwhile = call_sample(name, "Get");
  BOOST_TEST(meanwhile.error_name == kNameFrozen, meanwhile.describe());

  restore();
  RestoredProcess restored_process(pid);
  BOOST_TEST(increment(name) == 2u, "restored again, the same connection goes on");
}

// A criu that never finishes costs --criu-timeout, not the suite's time-out:
// killed, the service thawed, the error saying what happened.  An old CRIU
// (< 4.2 hangs on these machines) or one that does not answer --version is
// refused before anything is frozen.
BOOST_FIXTURE_TEST_CASE(a_criu_that_hangs_is_stopped_in_time, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  auto fake_criu = [&](const std::string &file, const std::string &body) {
    const fs::path path = bus.dir() / file;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    fs::permissions(path, fs::perms::owner_all);
    return path.string();
  };

  const std::string hangs = fake_criu(
      "criu-hangs", "[ \"$1\" = --version ] && { echo 'Version: 4.2.1'; exit 0; }\n"
                    "exec sleep 100000\n");
  auto started = std::chrono::steady_clock::now();
  CommandResult r = cli({"checkpoint", name, "-D", images.string(), "--criu", hangs,
                         "--criu-timeout", "2"});
  BOOST_TEST_MESSAGE("hanging criu: " << elapsed_ms(started) << " ms: " << r.err);
  BOOST_TEST(r.exit_status == 1, r.describe());
  BOOST_TEST(elapsed_ms(started) < 15'000);
  BOOST_TEST(r.err.find("criu dump failed (timed out after 2 s): criu 4.2.1 did not finish "
                        "within --criu-timeout") != std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("1 bus connection thawed again") != std::string::npos, r.err);
  BOOST_TEST(service.running());
  BOOST_TEST(list_frozen(admin.get()).empty());
  BOOST_TEST(increment(name) == 1u, "the service answers again");

  auto refused = [&](const std::string &criu, const std::string &expected) {
    const auto before = std::chrono::steady_clock::now();
    CommandResult refusal =
        cli({"checkpoint", name, "-D", (bus.dir() / "never").string(), "--criu", criu});
    BOOST_TEST(refusal.exit_status == 1, refusal.describe());
    BOOST_TEST(refusal.err.find(expected) != std::string::npos, refusal.err);
    BOOST_TEST(elapsed_ms(before) < 10'000);
    BOOST_TEST(list_frozen(admin.get()).empty(), "nothing was frozen");
  };
  const std::string old = fake_criu("criu-old", "echo 'Version: 4.1.1'\n");
  refused(old, old + ": CRIU 4.1.1 is older than 4.2: CRIU < 4.2 hangs in every dump where "
               "hardware breakpoints are not virtualized");
  const std::string silent = fake_criu("criu-silent", "exec sleep 100001\n");
  refused(silent, "'" + silent + " --version' failed (timed out after 5 s)");
  const std::string other = fake_criu("not-criu", "echo 'usage: something else'\n");
  refused(other, "'" + other + " --version' printed no version ('usage: something else')");
  BOOST_TEST(increment(name) == 2u);
}

BOOST_FIXTURE_TEST_CASE(restore_refused_when_another_process_owns_the_name, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const std::string name = service.well_known_name();
  checkpoint(service);
  const std::string id = list_frozen(admin.get()).at(0).id;

  // The detached connection is given up; another process takes the name.
  CallResult discarded = call(admin.get(), checkpoint_method("Discard"), "s", id.c_str());
  BOOST_REQUIRE_MESSAGE(discarded.ok(), discarded.describe());
  SampleService usurper(SampleKind::PythonDbus, bus);
  BOOST_REQUIRE(name_owner(admin.get(), name) == usurper.unique_name());

  const std::size_t n_images = image_count(images);
  CommandResult r = cli({"restore", "-D", images.string()});
  BOOST_TEST(r.exit_status == 1, r.describe());
  BOOST_TEST(r.err.find(name + " is owned by " + usurper.unique_name()) != std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("images in " + images.string() + " are kept") != std::string::npos, r.err);
  BOOST_TEST(n_images > 0u);
  BOOST_TEST(image_count(images) == n_images, "the images are kept");
  BOOST_TEST(json_query(read_file(images / "dbus-checkpoint.json"), "d['restored']") == "None");
  BOOST_TEST(increment(name) == 1u, "the other process keeps answering");
}

BOOST_FIXTURE_TEST_CASE(restore_runs_once_and_as_root_only, Fixture)
{
  SampleService service(SampleKind::PythonDbus, bus);
  const pid_t pid = service.pid();
  const std::string name = service.well_known_name();
  BOOST_TEST(increment(name) == 1u);

  const std::vector<std::string> as_nobody = {DCP_SETPRIV, "--reuid=65534", "--regid=65534",
                                              "--clear-groups", DCP_CLI};
  std::vector<std::string> checkpoint_as_nobody = as_nobody;
  checkpoint_as_nobody.insert(checkpoint_as_nobody.end(),
                              {"checkpoint", name, "-D", (bus.dir() / "nobody").string()});
  CommandResult refused_dump = run_command(checkpoint_as_nobody);
  BOOST_TEST(refused_dump.exit_status == 1, refused_dump.describe());
  BOOST_TEST(refused_dump.err.find("checkpoint must run as root") != std::string::npos,
             refused_dump.err);
  BOOST_TEST(list_frozen(admin.get()).empty());

  checkpoint(service);
  std::vector<std::string> restore_as_nobody = as_nobody;
  restore_as_nobody.insert(restore_as_nobody.end(), {"restore", "-D", images.string()});
  CommandResult refused = run_command(restore_as_nobody);
  BOOST_TEST(refused.exit_status == 1, refused.describe());
  BOOST_TEST(refused.err.find("restore must run as root") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("this is uid 65534") != std::string::npos, refused.err);

  restore();
  RestoredProcess restored_process(pid);
  BOOST_TEST(increment(name) == 2u);

  CommandResult again = cli({"restore", "-D", images.string()});
  BOOST_TEST(again.exit_status == 1, again.describe());
  BOOST_TEST(again.err.find(images.string() + " was restored already") != std::string::npos,
             again.err);
  BOOST_TEST(increment(name) == 3u, "the restored service is not disturbed");
}

// "Reboot": the dumped service's bus dies with every client, a new daemon
// starts on the same state directory, and the restore continues the same
// connection.  With the records lost too (or on another host's bus), the
// plugin Imports the record from the images.
BOOST_DATA_TEST_CASE_F(Fixture, restore_after_the_bus_restarted,
                       boost::unit_test::data::make({false, true}), lose_records)
{
  SampleService service(lose_records ? SampleKind::GDBus : SampleKind::SdBus, bus);
  const pid_t pid = service.pid();
  const std::string name = service.well_known_name();
  const std::string unique_name = service.unique_name();
  BOOST_TEST(increment(name) == 1u);
  BOOST_TEST(increment(name) == 2u);
  checkpoint(service);

  restart_bus(lose_records);
  if (lose_records)
    BOOST_REQUIRE(!name_has_owner(admin.get(), name));
  else
    BOOST_REQUIRE(wait_until([&] { return !list_frozen(admin.get()).empty(); }, 5s));

  restore();
  RestoredProcess restored_process(pid);
  BOOST_TEST(name_owner(admin.get(), name) == unique_name);
  BOOST_TEST(increment(name) == 3u, "the counter continues");
  BOOST_TEST(list_frozen(admin.get()).empty());
}

namespace {

// Processes running `criu lazy-pages` on `images`.
std::vector<pid_t> lazy_pages_daemons(const fs::path &images)
{
  std::vector<pid_t> found;
  for (const auto &entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream file(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("lazy-pages") + '\0') != std::string::npos &&
        cmdline.find(images.string()) != std::string::npos)
      found.push_back(std::stoi(name));
  }
  return found;
}

constexpr unsigned kHeapMb = 48;

} // namespace

BOOST_FIXTURE_TEST_CASE(a_large_heap_is_restored_with_lazy_pages_above_the_threshold, Fixture)
{
  SampleOptions options;
  options.heap_mb = kHeapMb;
  SampleService service(SampleKind::SdBus, bus, options);
  const pid_t pid = service.pid();
  const std::string name = service.well_known_name();
  BOOST_TEST(increment(name) == 1u);
  const std::string before = heap_of(pid, kHeapMb);
  BOOST_REQUIRE_MESSAGE(!before.empty(), "pid " << pid << " has its heap mapping");
  BOOST_REQUIRE(heap_mismatch(before).empty());
  checkpoint(service);

  CommandResult restored = must_run(
      {"restore", "--json", "--lazy-pages-above", "1M", "-D", images.string()});
  RestoredProcess restored_process(pid);
  BOOST_TEST_MESSAGE("restore --json --lazy-pages-above 1M: " << restored.out << restored.err);
  BOOST_TEST(json_query(restored.out, "d['lazy_pages']") == "True", restored.out);
  BOOST_TEST(json_query(restored.out, "d['pages_bytes'] >= " + std::to_string(kHeapMb << 20)) ==
             "True", restored.out);
  BOOST_TEST(json_query(restored.out, "d['pages_in_ms'] >= d['restore_ms'] > 0") == "True",
             restored.out);
  BOOST_TEST(json_query(restored.out, "d['lazy_pages_warning']") == "", restored.out);
  // started before the checks: the restore waits only for what is left of its start-up
  BOOST_TEST(json_query(restored.out, "d['lazy_pages_start_ms'] >= d['lazy_pages_wait_ms'] >= 0") ==
             "True", restored.out);
  BOOST_TEST(fs::exists(images / "lazy-pages.log"));
  BOOST_TEST(lazy_pages_daemons(images).empty(), "criu lazy-pages has exited");
  BOOST_TEST(increment(name) == 2u, "the counter continues");
  const std::string heap = heap_of(pid, kHeapMb);
  BOOST_REQUIRE_MESSAGE(!heap.empty(), "pid " << pid << " has its heap mapping");
  const std::string mismatch = heap_mismatch(heap);
  BOOST_TEST(mismatch.empty(), "the restored heap: " << mismatch);
}

BOOST_FIXTURE_TEST_CASE(no_lazy_pages_copies_the_heap_before_the_service_runs, Fixture)
{
  SampleOptions options;
  options.heap_mb = kHeapMb;
  SampleService service(SampleKind::SdBus, bus, options);
  const pid_t pid = service.pid();
  checkpoint(service);

  CommandResult restored = must_run({"restore", "--no-lazy-pages", "-D", images.string()});
  RestoredProcess restored_process(pid);
  BOOST_TEST_MESSAGE("restore --no-lazy-pages: " << restored.err);
  BOOST_TEST(restored.err.find("no lazy pages (--no-lazy-pages)") != std::string::npos,
             restored.err);
  BOOST_TEST(!fs::exists(images / "lazy-pages.log"));
  BOOST_TEST(lazy_pages_daemons(images).empty());
  BOOST_TEST(increment(service.well_known_name()) == 1u);
  const std::string heap = heap_of(pid, kHeapMb);
  BOOST_REQUIRE_MESSAGE(!heap.empty(), "pid " << pid << " has its heap mapping");
  const std::string mismatch = heap_mismatch(heap);
  BOOST_TEST(mismatch.empty(), "the restored heap: " << mismatch);
}

// receive: a migration that never comes ends the wait with a clear error
// (DIR made 0700 meanwhile); a checkpoint restored already is refused; not
// root, nothing is made.
BOOST_FIXTURE_TEST_CASE(receive_says_when_nothing_arrives, Fixture)
{
  const fs::path dir = bus.dir() / "incoming";
  const auto started = std::chrono::steady_clock::now();
  CommandResult waited = cli({"receive", "-D", dir.string(), "--wait", "1"});
  BOOST_TEST(waited.exit_status == 1, waited.describe());
  BOOST_TEST(waited.err.find("no migration arrived in " + dir.string() + " within 1 s (--wait)") !=
                 std::string::npos, waited.err);
  BOOST_TEST(elapsed_ms(started) >= 1000.0);
  BOOST_TEST(((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all), "DIR made 0700");

  CommandResult as_nobody = run_command({DCP_SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups",
                                         DCP_CLI, "receive", "-D", (bus.dir() / "nobody").string()});
  BOOST_TEST(as_nobody.exit_status == 1, as_nobody.describe());
  BOOST_TEST(as_nobody.err.find("receive must run as root") != std::string::npos, as_nobody.err);
  BOOST_TEST(!fs::exists(bus.dir() / "nobody"));

  // a checkpoint whose pages are in DIR, restored once: receive refuses it again
  SampleService service(SampleKind::SdBus, bus);
  const pid_t pid = service.pid();  // before the dump: a reaped service has none
  BOOST_TEST(increment(service.well_known_name()) == 1u);
  checkpoint(service);
  CommandResult received = must_run({"receive", "-D", images.string(), "--wait", "5"});
  RestoredProcess restored(pid);
  BOOST_TEST(received.err.find("its pages are in the directory") != std::string::npos, received.err);
  BOOST_TEST(increment(service.well_known_name()) == 2u);
  CommandResult again = cli({"receive", "-D", images.string(), "--wait", "5"});
  BOOST_TEST(again.exit_status == 1, again.describe());
  BOOST_TEST(again.err.find("was restored already") != std::string::npos, again.err);
}
