// SPDX-License-Identifier: GPL-2.0-or-later
// The dbus-checkpoint binary, run as administrators run it, against a
// private system bus on our patched daemon with real sample services:
// freeze / list / thaw, freeze --in-place (SIGSTOP and the cgroup freezer),
// discard, export, and what it says about bad input.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <dbus-checkpoint/bus-abi.h>

#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "cli_support.hpp"
#include "cli/cgroup_freezer.hpp"
#include "cli/process_tree.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "sample_service.hpp"

using namespace dcp::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kImplementedCommands = {
    "checkpoint", "restore", "migrate", "receive", "list", "freeze", "thaw", "discard", "export"};

// The "(bus Freeze 0.41 ms)" figure of a report line, for the log.
std::string reported_time(const std::string &report, const std::string &what)
{
  std::smatch match;
  std::regex pattern(what + " ([0-9.]+ ms)");
  return std::regex_search(report, match, pattern) ? match[1].str() : "?";
}

char process_state(pid_t pid)
{
  auto process = dbus_checkpoint::cli::read_process(pid);
  return process ? process->state : '-';
}

struct Fixture {
  PrivateSystemBus bus;
  SdBus admin = open_system_bus();
  fs::path run_dir = bus.dir() / "run";  // where --in-place keeps what it stopped

  CommandResult cli(std::vector<std::string> arguments,
                    std::map<std::string, std::string> env = {})
  {
    env.emplace("DBUS_CHECKPOINT_RUN_DIR", run_dir.string());
    return run_cli(std::move(arguments), env);
  }

  CommandResult must_run(std::vector<std::string> arguments)
  {
    CommandResult r = cli(arguments);
    BOOST_REQUIRE_MESSAGE(r.ok(), arguments.at(0) << ": " << r.describe());
    return r;
  }

  std::string freeze(const std::vector<std::string> &options, const std::string &name)
  {
    std::vector<std::string> arguments = {"freeze"};
    arguments.insert(arguments.end(), options.begin(), options.end());
    arguments.push_back(name);
    CommandResult r = must_run(arguments);
    std::string id = first_line(r.out);
    BOOST_REQUIRE_MESSAGE(is_checkpoint_id(id), "freeze printed " << r.describe());
    BOOST_TEST_MESSAGE("freeze " << name << ": bus Freeze " << reported_time(r.err, "Freeze")
                                 << "; " << first_line(r.err.substr(r.err.find('\n') + 1)));
    return id;
  }

  void thaw(const std::string &id)
  {
    CommandResult r = must_run({"thaw", id});
    BOOST_TEST(r.err.find("thawed checkpoint " + id) != std::string::npos, r.err);
    BOOST_TEST_MESSAGE("thaw: bus Thaw " << reported_time(r.err, "Thaw") << "; " << r.err);
  }

  CallResult call_sample(const SampleService &service, const char *member)
  {
    return call(admin.get(), sample_method(service.well_known_name(), member));
  }

  std::uint64_t increment(const SampleService &service)
  {
    return sample_uint64(admin.get(), service.well_known_name(), "Increment");
  }
};

// A cgroup v2 cgroup of the test's own, removed when done (after the
// services in it are gone: declare it before them).
class TestCgroup {
 public:
  TestCgroup()
  {
    auto mount = dbus_checkpoint::cli::cgroup2_mount_point();
    if (!mount)
      return;
    fs::path dir = *mount / ("dcp-test-cli-" + std::to_string(getpid()));
    if (::mkdir(dir.c_str(), 0755) == 0)
      dir_ = dir;
  }
  ~TestCgroup()
  {
    if (dir_.empty())
      return;
    std::ofstream(dir_ / "cgroup.freeze") << "0";
    wait_until([&] { return ::rmdir(dir_.c_str()) == 0; }, 5s);
  }
  TestCgroup(const TestCgroup &) = delete;
  TestCgroup &operator=(const TestCgroup &) = delete;

  bool usable() const { return !dir_.empty(); }
  const fs::path &dir() const { return dir_; }
  bool move_in(pid_t pid) const
  {
    std::ofstream procs(dir_ / "cgroup.procs");
    procs << pid << std::flush;
    return procs.good();
  }
  bool frozen() const { return dbus_checkpoint::cli::cgroup_is_frozen(dir_); }

 private:
  fs::path dir_;
};

} // namespace

BOOST_FIXTURE_TEST_CASE(freeze_list_thaw, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  BOOST_TEST(increment(service) == 1u);

  std::string id = freeze({}, service.well_known_name());
  CallResult refused = call_sample(service, "Increment");
  BOOST_TEST(refused.error_name == kNameFrozen, refused.describe());

  CommandResult listed = must_run({"list"});
  for (const std::string &expected :
       {id, service.unique_name(), service.well_known_name(), std::string("ATTACHED"),
        std::string(" yes "), std::to_string(service.pid()), std::string(" ago)")})
    BOOST_TEST(listed.out.find(expected) != std::string::npos, expected << " in\n" << listed.out);

  CommandResult json = must_run({"list", "--json"});
  BOOST_TEST(json_query(json.out, "len(d['frozen'])") == "1");
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['id']") == id);
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['names']") ==
             "['" + service.well_known_name() + "']");
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['attached']") == "True");
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['pid']") == std::to_string(service.pid()));
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['stopped']") == "None");

  CommandResult again = must_run({"--json", "freeze", service.unique_name()});
  BOOST_TEST(json_query(again.out, "d['id']") == id, "freezing a frozen connection gives its id");

  thaw(id);
  BOOST_TEST(increment(service) == 2u, "the counter continues");
  BOOST_TEST(must_run({"list"}).out == "No frozen connections.\n");
  BOOST_TEST(json_query(must_run({"list", "--json"}).out, "d['frozen']") == "[]");
}

BOOST_FIXTURE_TEST_CASE(freeze_in_place_stops_the_process_and_thaw_resumes_it, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  BOOST_TEST(increment(service) == 1u);

  std::string id = freeze({"--in-place"}, service.well_known_name());
  BOOST_TEST(process_state(service.pid()) == 'T', "SIGSTOPped (the test bus runs in the "
                                                  "root cgroup, so no cgroup freezer)");
  BOOST_TEST(fs::exists(run_dir / id), "what was stopped is remembered");
  CallResult refused = call_sample(service, "Increment");
  BOOST_TEST(refused.error_name == kNameFrozen, refused.describe());

  CommandResult listed = must_run({"list"});
  BOOST_TEST(listed.out.find("SIGSTOP (1)") != std::string::npos, listed.out);
  CommandResult json = must_run({"list", "--json"});
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['stopped']['method']") == "signal");
  BOOST_TEST(json_query(json.out, "d['frozen'][0]['stopped']['pids']") ==
             "[" + std::to_string(service.pid()) + "]");

  CommandResult again = must_run({"freeze", "--in-place", service.well_known_name()});
  BOOST_TEST(first_line(again.out) == id);
  BOOST_TEST(again.err.find("already stopped in place") != std::string::npos, again.err);

  thaw(id);  // another invocation than the one that stopped it
  BOOST_TEST(process_state(service.pid()) != 'T');
  BOOST_TEST(!fs::exists(run_dir / id));
  BOOST_TEST(increment(service) == 2u, "the counter continues");
}

BOOST_FIXTURE_TEST_CASE(freeze_in_place_uses_the_cgroup_freezer_when_alone, Fixture)
{
  TestCgroup cgroup;
  if (!cgroup.usable()) {
    BOOST_TEST_MESSAGE("no writable cgroup v2 hierarchy here: skipped");
    return;
  }
  SampleService service(SampleKind::SdBus, bus);
  BOOST_REQUIRE(cgroup.move_in(service.pid()));
  BOOST_TEST(increment(service) == 1u);

  CommandResult frozen = must_run({"--json", "freeze", "--in-place", service.well_known_name()});
  std::string id = json_query(frozen.out, "d['id']");
  BOOST_TEST(json_query(frozen.out, "d['stopped']['method']") == "cgroup");
  BOOST_TEST(json_query(frozen.out, "d['stopped']['cgroup']") == cgroup.dir().string());
  const std::string bus_ms = json_query(frozen.out, "d['bus_ms']");
  const std::string stop_ms = json_query(frozen.out, "d['stop_ms']");
  BOOST_TEST_MESSAGE("freeze --in-place (cgroup): bus Freeze " << bus_ms << " ms, stop "
                                                               << stop_ms << " ms");
  BOOST_TEST(cgroup.frozen());
  CallResult refused = call_sample(service, "Increment");
  BOOST_TEST(refused.error_name == kNameFrozen, refused.describe());

  CommandResult thawed = must_run({"--json", "thaw", id});
  BOOST_TEST(json_query(thawed.out, "d['resumed']['method']") == "cgroup");
  BOOST_TEST(!cgroup.frozen());
  BOOST_TEST(increment(service) == 2u, "the counter continues");
}

BOOST_FIXTURE_TEST_CASE(discard_releases_the_name_and_resumes_the_process, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze({"--in-place"}, service.well_known_name());
  BOOST_REQUIRE(process_state(service.pid()) == 'T');

  CommandResult discarded = must_run({"discard", id});
  BOOST_TEST(discarded.err.find("discarded checkpoint " + id) != std::string::npos,
             discarded.err);
  BOOST_TEST(discarded.err.find("resumed pid " + std::to_string(service.pid())) !=
                 std::string::npos,
             discarded.err);
  BOOST_TEST(!name_has_owner(admin.get(), service.well_known_name()));
  BOOST_TEST(!name_has_owner(admin.get(), service.unique_name()));
  BOOST_TEST(process_state(service.pid()) != 'T', "not left stopped");
  BOOST_TEST(must_run({"list"}).out == "No frozen connections.\n");
}

BOOST_FIXTURE_TEST_CASE(export_writes_a_record_that_parses, Fixture)
{
  SampleService service(SampleKind::PythonDbus, bus);
  std::string id = freeze({}, service.well_known_name());
  fs::path file = bus.dir() / "exported.record";

  CommandResult exported = must_run({"export", id, "-o", file.string()});
  BOOST_TEST(exported.err.find("bytes written to " + file.string()) != std::string::npos,
             exported.err);
  BOOST_TEST(((fs::status(file).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)),
             "mode 0600");
  std::string bytes = read_file(file.string());
  DcpRecord *raw = nullptr;
  char *error = nullptr;
  int parsed = dcp_record_parse(bytes.data(), bytes.size(), &raw, &error);
  std::unique_ptr<char, decltype(&free)> error_text(error, free);
  BOOST_REQUIRE_MESSAGE(parsed == 0, "the record does not parse: " << (error ? error : "?"));
  std::unique_ptr<DcpRecord, decltype(&dcp_record_free)> record(raw, dcp_record_free);
  BOOST_TEST(dcp_record_get_checkpoint_id(record.get()) == id);
  BOOST_TEST(dcp_record_get_unique_name(record.get()) == service.unique_name());

  CommandResult json = must_run({"export", "--json", id, "--output", file.string()});
  BOOST_TEST(json_query(json.out, "d['bytes']") == std::to_string(bytes.size()));
  thaw(id);
}

// Issue 12, finding 6: `export -o FILE` wrote through a symlink planted as FILE.
BOOST_FIXTURE_TEST_CASE(export_replaces_a_planted_symlink_instead_of_writing_through_it, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  std::string id = freeze({}, service.well_known_name());
  const fs::path victim = bus.dir() / "victim";
  std::ofstream(victim) << "keep";
  const fs::path file = bus.dir() / "exported.record";
  fs::create_symlink(victim, file);
  must_run({"export", id, "-o", file.string()});
  BOOST_TEST(read_file(victim.string()) == "keep");
  BOOST_TEST(fs::is_regular_file(fs::symlink_status(file)));
  thaw(id);
}

// Issue 12, finding 6: an images directory anyone could write was used as
// root (a planted manifest or image file means root code execution).
BOOST_FIXTURE_TEST_CASE(checkpoint_and_restore_refuse_an_images_dir_others_can_write, Fixture)
{
  SampleService service(SampleKind::SdBus, bus);
  const fs::path dir = bus.dir() / "images";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::all);
  const std::string refusal = dir.string() + " is writable by group or others (mode 0777)";

  CommandResult checkpoint = cli({"checkpoint", service.well_known_name(), "-D", dir.string()});
  BOOST_TEST(checkpoint.exit_status == 1, checkpoint.describe());
  BOOST_TEST(checkpoint.err.find(refusal) != std::string::npos, checkpoint.err);
  BOOST_TEST(list_frozen(admin.get()).empty(), "nothing frozen");
  BOOST_TEST(increment(service) == 1u, "the service runs on");

  CommandResult restore = cli({"restore", "-D", dir.string()});
  BOOST_TEST(restore.exit_status == 1, restore.describe());
  BOOST_TEST(restore.err.find(refusal) != std::string::npos, restore.err);
}

BOOST_FIXTURE_TEST_CASE(address_option_names_the_bus, Fixture)
{
  SampleService service(SampleKind::GDBus, bus);
  std::map<std::string, std::string> no_system_bus = {
      {"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/socket"}};
  CommandResult missing = cli({"list"}, no_system_bus);
  BOOST_TEST(missing.exit_status == 1, missing.describe());
  BOOST_TEST(missing.err.find("cannot connect to the system bus") != std::string::npos,
             missing.err);

  CommandResult frozen = cli({"--address", bus.address(), "freeze", service.well_known_name()},
                             no_system_bus);
  BOOST_REQUIRE_MESSAGE(frozen.ok(), frozen.describe());
  CommandResult thawed = cli({"thaw", first_line(frozen.out), "--address=" + bus.address()},
                             no_system_bus);
  BOOST_TEST(thawed.ok(), thawed.describe());
  BOOST_TEST(increment(service) == 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_explained, Fixture)
{
  CommandResult unknown = cli({"teleport", "-D", "/tmp/x"});
  BOOST_TEST(unknown.exit_status == 2, unknown.describe());
  BOOST_TEST(unknown.err.find("unknown command 'teleport'") != std::string::npos, unknown.err);
  BOOST_TEST(unknown.err.find("Usage: dbus-checkpoint") != std::string::npos, unknown.err);

  CommandResult bad_option = cli({"list", "--verbose"});
  BOOST_TEST(bad_option.exit_status == 2, bad_option.describe());
  BOOST_TEST(bad_option.err.find("unknown option '--verbose'") != std::string::npos);
  BOOST_TEST(cli({"thaw"}).exit_status == 2);
  BOOST_TEST(cli({}).exit_status == 2);

  const std::string no_such_id = "0123456789abcdef0123456789abcdef";
  CommandResult thaw_unknown = cli({"thaw", no_such_id});
  BOOST_TEST(thaw_unknown.exit_status == 1, thaw_unknown.describe());
  BOOST_TEST(thaw_unknown.err == "dbus-checkpoint: thaw: org.freedesktop.DBus.Error.InvalidArgs: "
                                 "No frozen connection has checkpoint id \"" + no_such_id + "\"\n");
  CommandResult json_error = cli({"--json", "discard", no_such_id});
  BOOST_TEST(json_error.exit_status == 1);
  BOOST_TEST(json_query(json_error.out, "d['error']['name']") ==
             "org.freedesktop.DBus.Error.InvalidArgs");

  CommandResult nobody = cli({"freeze", "org.dbuscheckpoint.Nobody"});
  BOOST_TEST(nobody.exit_status == 1);
  BOOST_TEST(nobody.err.find("org.freedesktop.DBus.Error.NameHasNoOwner") != std::string::npos,
             nobody.err);
  CommandResult no_export = cli({"export", no_such_id, "-o", (bus.dir() / "x").string()});
  BOOST_TEST(no_export.exit_status == 1);
  BOOST_TEST(!fs::exists(bus.dir() / "x"), "no file for a failed export");
}

BOOST_FIXTURE_TEST_CASE(help_lists_exactly_the_implemented_commands, Fixture)
{
  CommandResult help = must_run({"--help"});
  std::vector<std::string> commands;
  auto section = help.out.find("Commands:\n");
  BOOST_REQUIRE(section != std::string::npos);
  std::istringstream lines(help.out.substr(section + 10));
  for (std::string line; std::getline(lines, line) && !line.empty();)
    if (line.starts_with("  ") && line[2] != ' ')
      commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  BOOST_TEST(commands == kImplementedCommands, boost::test_tools::per_element());

  for (const std::string &command : kImplementedCommands) {
    CommandResult command_help = must_run({command, "--help"});
    BOOST_TEST(command_help.out.starts_with("Usage: dbus-checkpoint " + command),
               command_help.out);
  }
  CommandResult version = must_run({"--version"});
  BOOST_TEST(version.out.starts_with("dbus-checkpoint "), version.out);
}
