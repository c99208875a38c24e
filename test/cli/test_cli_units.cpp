// SPDX-License-Identifier: GPL-2.0-or-later
// The CLI's parts that need no bus: the command line, JSON, the formats of
// times, sizes and tables, /proc/PID/stat parsing, and the record of the
// processes freeze --in-place stopped; stopping and resuming a process tree.
#define BOOST_TEST_MODULE cli_units
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <functional>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/criu_version_cache.hpp"
#include "cli/dump_checks.hpp"
#include "cli/files.hpp"
#include "cli/format.hpp"
#include "cli/in_place.hpp"
#include "cli/json.hpp"
#include "cli/manifest.hpp"
#include "cli/process_tree.hpp"
#include "cli/stop_record.hpp"
#include "process.hpp"

using namespace dbus_checkpoint::cli;
using namespace std::chrono_literals;

namespace {

ParsedArguments parse(std::vector<std::string> arguments)
{
  return parse_arguments(arguments);
}

std::string usage_error(std::vector<std::string> arguments)
{
  return parse(std::move(arguments)).usage_error;
}

} // namespace

BOOST_AUTO_TEST_SUITE(arguments)

BOOST_AUTO_TEST_CASE(subcommands_and_their_arguments)
{
  auto freeze = parse({"--json", "freeze", "--in-place", "org.example.Name"});
  BOOST_TEST(freeze.usage_error == "");
  BOOST_TEST((freeze.invocation.subcommand == Subcommand::Freeze));
  BOOST_TEST(freeze.invocation.json);
  BOOST_TEST(freeze.invocation.in_place);
  BOOST_TEST(freeze.invocation.target == "org.example.Name");
  BOOST_TEST(freeze.invocation.bus.address == "", "the system bus by default");

  auto exported = parse({"export", "0123", "-o", "out.rec", "--address=unix:path=/x"});
  BOOST_TEST(exported.usage_error == "");
  BOOST_TEST(exported.invocation.output_path == "out.rec");
  BOOST_TEST(exported.invocation.bus.address == "unix:path=/x");
  BOOST_TEST(parse({"export", "ID", "--output=f"}).invocation.output_path == "f");

  auto system = parse({"--address", "unix:path=/x", "--system", "list"});
  BOOST_TEST(system.usage_error == "");
  BOOST_TEST(system.invocation.bus.address == "", "the last of --system / --address wins");
}

BOOST_AUTO_TEST_CASE(help_and_version_need_no_command)
{
  BOOST_TEST((parse({"--help"}).invocation.request == Invocation::Request::Help));
  BOOST_TEST((parse({"-h"}).invocation.request == Invocation::Request::Help));
  auto thaw_help = parse({"thaw", "--help"});
  BOOST_TEST(thaw_help.usage_error == "");
  BOOST_TEST((thaw_help.invocation.subcommand == Subcommand::Thaw));
  BOOST_TEST((parse({"--version"}).invocation.request == Invocation::Request::Version));
}

BOOST_AUTO_TEST_CASE(usage_errors)
{
  BOOST_TEST(usage_error({}) == "no command given");
  BOOST_TEST(usage_error({"teleport", "x"}) == "unknown command 'teleport'");
  BOOST_TEST(usage_error({"list", "--frobnicate"}) == "unknown option '--frobnicate'");
  BOOST_TEST(usage_error({"thaw"}) == "thaw: missing ID");
  BOOST_TEST(usage_error({"freeze"}) == "freeze: missing NAME");
  BOOST_TEST(usage_error({"thaw", "a", "b"}) == "unexpected argument 'b'");
  BOOST_TEST(usage_error({"list", "x"}) == "unexpected argument 'x'");
  BOOST_TEST(usage_error({"export", "ID"}) == "export: missing -o FILE");
  BOOST_TEST(usage_error({"export", "ID", "-o"}) == "option '-o' needs a value");
  BOOST_TEST(usage_error({"thaw", "--in-place", "ID"}) ==
             "thaw: --in-place is an option of freeze");
  BOOST_TEST(usage_error({"--json=yes", "list"}) == "option '--json' takes no value");
}

BOOST_AUTO_TEST_CASE(checkpoint_and_restore_arguments)
{
  auto by_name = parse({"checkpoint", "org.example.Name", "-D", "/tmp/images", "--json"});
  BOOST_TEST(by_name.usage_error == "");
  BOOST_TEST((by_name.invocation.subcommand == Subcommand::Checkpoint));
  BOOST_TEST(by_name.invocation.target == "org.example.Name");
  BOOST_TEST(by_name.invocation.images_dir == "/tmp/images");
  BOOST_TEST(by_name.invocation.pid == 0);
  BOOST_TEST(by_name.invocation.criu_path == default_criu_path());
  BOOST_TEST(by_name.invocation.plugin_dir == default_plugin_dir());

  auto by_pid = parse({"checkpoint", "--pid", "4242", "--images-dir=d", "--criu", "/x/criu",
                       "--plugin-dir", "/x/plugins"});
  BOOST_TEST(by_pid.usage_error == "");
  BOOST_TEST(by_pid.invocation.pid == 4242);
  BOOST_TEST(by_pid.invocation.images_dir == "d");
  BOOST_TEST(by_pid.invocation.criu_path == "/x/criu");
  BOOST_TEST(by_pid.invocation.plugin_dir == "/x/plugins");

  auto restore = parse({"restore", "-D", "d"});
  BOOST_TEST(restore.usage_error == "");
  BOOST_TEST((restore.invocation.subcommand == Subcommand::Restore));
  BOOST_TEST(restore.invocation.criu_timeout.count() == 120);
  auto patient = parse({"restore", "-D", "d", "--criu-timeout", "7"});
  BOOST_TEST(patient.usage_error == "");
  BOOST_TEST(patient.invocation.criu_timeout.count() == 7);
  for (const char *bad : {"0", "3601", "x", "-1", "2.5"})
    BOOST_TEST(usage_error({"checkpoint", "n", "-D", "d", "--criu-timeout", bad}) ==
                   "checkpoint: --criu-timeout needs whole seconds from 1 to 3600, not '" +
                       std::string(bad) + "'",
               bad);
  BOOST_TEST(usage_error({"list", "--criu-timeout", "5"}) ==
             "list: --criu-timeout is an option of checkpoint, restore, migrate and receive");

  BOOST_TEST(usage_error({"checkpoint", "-D", "d"}) == "checkpoint: missing NAME or --pid PID");
  BOOST_TEST(usage_error({"checkpoint", "n"}) == "checkpoint: missing -D DIR");
  BOOST_TEST(usage_error({"checkpoint", "n", "--pid", "5", "-D", "d"}) ==
             "checkpoint: give NAME or --pid PID, not both");
  for (const char *bad_pid : {"x", "1", "0", "-4", "12x"})
    BOOST_TEST(usage_error({"checkpoint", "--pid", bad_pid, "-D", "d"}) ==
                   "checkpoint: --pid needs a process id above 1, not '" + std::string(bad_pid) +
                       "'",
               bad_pid);
  BOOST_TEST(usage_error({"restore"}) == "restore: missing -D DIR");
  BOOST_TEST(usage_error({"restore", "-D", "d", "x"}) == "unexpected argument 'x'");
  BOOST_TEST(usage_error({"restore", "-D", "d", "--pid", "5"}) ==
             "restore: --pid is an option of checkpoint and migrate");
  BOOST_TEST(usage_error({"list", "-D", "d"}) == "list: -D is an option of checkpoint, restore, migrate and receive");
  BOOST_TEST(usage_error({"thaw", "ID", "--criu", "c"}) ==
             "thaw: --criu is an option of checkpoint, restore, migrate and receive");
  BOOST_TEST(usage_error({"checkpoint", "n", "-D", "d", "-o", "f"}) ==
             "checkpoint: -o is an option of export");
}

BOOST_AUTO_TEST_CASE(usage_lists_exactly_the_implemented_commands)
{
  const std::string usage = program_usage();
  for (const char *command : {"  checkpoint [--keep-across-reboot] NAME|--pid PID -D DIR\n",
                              "  restore -D DIR ",
                              "  list ", "  freeze ", "  thaw ", "  discard ", "  export ",
                              "  --criu PATH ", "  --plugin-dir DIR "})
    BOOST_TEST(usage.find(command) != std::string::npos, command);
  BOOST_TEST(subcommand_usage(Subcommand::Export).starts_with("Usage: dbus-checkpoint export"));
  const std::string checkpoint = subcommand_usage(Subcommand::Checkpoint);
  BOOST_TEST(checkpoint.starts_with(
      "Usage: dbus-checkpoint checkpoint [--keep-across-reboot] NAME|--pid PID -D DIR\n"));
  for (const std::string &option : std::vector<std::string>{
           "--pid PID", "-D, --images-dir DIR", "--keep-across-reboot", "--criu PATH",
           default_criu_path(), "--plugin-dir DIR", default_plugin_dir(),
           "criu dump -t PID -D DIR -L PLUGIN_DIR"})
    BOOST_TEST(checkpoint.find(option) != std::string::npos, option);
  const std::string restore = subcommand_usage(Subcommand::Restore);
  BOOST_TEST(restore.find("criu restore -D DIR -L PLUGIN_DIR -d") != std::string::npos);
  BOOST_TEST(subcommand_usage(Subcommand::List).find("--criu") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json)

// What the CLI prints with --json always parses, whatever bytes a name or
// a path holds.
BOOST_AUTO_TEST_CASE(text_is_one_line_of_valid_utf8)
{
  BOOST_TEST(json_text(Json("a\nb\"")) == "\"a\\nb\\\"\"");
  BOOST_TEST(json_text(Json("gr\xC3\xBC\xC3\x9F")) == "\"gr\xC3\xBC\xC3\x9F\"", "UTF-8 kept");
  BOOST_TEST(json_text(Json("bad\xFF")) == "\"bad\xEF\xBF\xBD\"", "invalid byte replaced");
  BOOST_TEST(json_text(Json("\xC3")) == "\"\xEF\xBF\xBD\"", "truncated sequence replaced");
  const Json object = {{"s", "x"}, {"n", std::uint64_t{18446744073709551615u}}, {"none", nullptr}};
  BOOST_TEST(json_text(object) == "{\"s\":\"x\",\"n\":18446744073709551615,\"none\":null}",
             "members in the order they were added");
  BOOST_TEST(json_milliseconds(1.23456789) == 1.235);
}

BOOST_AUTO_TEST_CASE(parse_errors_say_where)
{
  auto parsed = parse_json(" {\"s\":\"\\u00fc\",\"i\":4242} ");
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed.value().at("s").get<std::string>() == "\xC3\xBC");
  for (const char *bad : {"", "{", "[1,]", "{} x", "\"\xFF\"", "1e400"})
    BOOST_TEST(!parse_json(bad).ok(), "accepted: " << bad);
  BOOST_TEST(parse_json("[1,]").error().message.starts_with("at line 1, column 4: syntax error"),
             parse_json("[1,]").error().message);
  BOOST_TEST(parse_json("1e400").error().message.find("1e400") != std::string::npos,
             parse_json("1e400").error().message);
  BOOST_TEST(parse_json(std::string(100000, '[') + std::string(100000, ']')).ok(),
             "deep nesting neither overflows the stack nor fails");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(format)

BOOST_AUTO_TEST_CASE(durations_ages_and_sizes)
{
  BOOST_TEST(format_milliseconds(1234567ns) == "1.23 ms");
  BOOST_TEST(format_age(0s) == "0s");
  BOOST_TEST(format_age(-5s) == "0s");
  BOOST_TEST(format_age(45s) == "45s");
  BOOST_TEST(format_age(192s) == "3m12s");
  BOOST_TEST(format_age(2h + 5min + 9s) == "2h05m");
  BOOST_TEST(format_age(std::chrono::seconds(3 * 86400 + 4 * 3600)) == "3d04h");
  BOOST_TEST(format_bytes(0) == "0 B");
  BOOST_TEST(format_bytes(1023) == "1023 B");
  BOOST_TEST(format_bytes(3482) == "3.4 KiB");
  BOOST_TEST(format_bytes(12u << 20) == "12.0 MiB");
}

BOOST_AUTO_TEST_CASE(local_times)
{
  setenv("TZ", "UTC", 1);
  tzset();
  const std::int64_t usec = 1'732'426'862'123'456;  // 2024-11-24 05:41:02 UTC
  BOOST_TEST(format_local_time(usec) == "2024-11-24 05:41:02");
  BOOST_TEST(format_rfc3339(usec) == "2024-11-24T05:41:02+00:00");
  setenv("TZ", "CET-1", 1);
  tzset();
  BOOST_TEST(format_rfc3339(usec) == "2024-11-24T06:41:02+01:00");
  unsetenv("TZ");
  tzset();
}

BOOST_AUTO_TEST_CASE(tables_align_columns)
{
  std::string table = format_table({"ID", "NAME", "X"}, {{"1", "long-name", "a"},
                                                         {"22", "n", "bb"}});
  BOOST_TEST(table == "ID  NAME       X\n"
                      "1   long-name  a\n"
                      "22  n          bb\n");
  BOOST_TEST(format_table({"\xC3\xBC", "B"}, {{"x", "y"}}) == "\xC3\xBC  B\nx  y\n",
             "width counts characters, not bytes");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(processes)

BOOST_AUTO_TEST_CASE(proc_stat_lines_parse)
{
  // comm may hold spaces and parentheses; start time is field 22.
  const std::string line = "4242 (odd) name)) T 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 "
                           "20 0 1 0 987654 1000 100 18446744073709551615";
  auto process = parse_proc_stat(line);
  BOOST_REQUIRE(process.has_value());
  BOOST_TEST(process->id.pid == 4242);
  BOOST_TEST(process->state == 'T');
  BOOST_TEST(process->parent == 17);
  BOOST_TEST(process->id.start_time == 987654u);
  BOOST_TEST(!parse_proc_stat("garbage").has_value());
  BOOST_TEST(!parse_proc_stat("12 (short) S 1 2").has_value());
}

BOOST_AUTO_TEST_CASE(this_process_is_alive_and_in_its_own_tree)
{
  auto self = read_process(getpid());
  BOOST_REQUIRE(self.has_value());
  BOOST_TEST(is_alive(self->id));
  BOOST_TEST(!is_alive({self->id.pid, self->id.start_time + 1}), "a reused pid is not alive");
  auto tree = process_tree(getppid());
  BOOST_REQUIRE(tree.ok());
  BOOST_TEST(tree.value().front().id.pid == getppid());
  bool has_self = false;
  for (const auto &process : tree.value())
    has_self |= process.id == self->id;
  BOOST_TEST(has_self);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(checkpoint_manifest)

CheckpointManifest sample_manifest()
{
  CheckpointManifest manifest;
  manifest.pid = 4242;
  manifest.command = "dcp-sample-sdbu";
  manifest.processes = {4242, 4243};
  manifest.bus = "unix:path=/tmp/x/system_bus_socket";
  manifest.connections = {{"0123456789abcdef0123456789abcdef", ":1.5",
                           {"org.example.A", "org.example.B"}, 4242, false, ""},
                          {"fedcba9876543210fedcba9876543210", ":1.6", {}, 4243, true,
                           "unix:path=/run/user/0/bus"}};
  manifest.created_usec = 1'700'000'000'000'000;
  manifest.freeze_ms = 0.5;
  manifest.dump_ms = 61.25;
  manifest.total_ms = 70.0;
  manifest.image_bytes = 409600;
  manifest.criu = "/usr/sbin/criu";
  manifest.criu_options = {"--file-locks"};
  return manifest;
}

BOOST_AUTO_TEST_CASE(manifests_round_trip)
{
  const CheckpointManifest manifest = sample_manifest();
  auto parsed = parse_manifest(manifest_json(manifest));
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  const CheckpointManifest &back = parsed.value();
  BOOST_TEST(back.pid == manifest.pid);
  BOOST_TEST(back.command == manifest.command);
  BOOST_TEST(back.processes == manifest.processes, boost::test_tools::per_element());
  BOOST_TEST(back.bus == manifest.bus);
  BOOST_REQUIRE(back.connections.size() == 2u);
  BOOST_TEST(back.connections[0].id == manifest.connections[0].id);
  BOOST_TEST(back.connections[0].names == manifest.connections[0].names,
             boost::test_tools::per_element());
  BOOST_TEST(back.connections[1].unique_name == ":1.6");
  BOOST_TEST(back.connections[1].frozen_before);
  BOOST_TEST(back.dump_ms == 61.25);
  BOOST_TEST(back.image_bytes == 409600u);
  BOOST_TEST(back.criu == manifest.criu);
  BOOST_TEST(back.connections[0].bus == "");
  BOOST_TEST(back.connections[1].bus == "unix:path=/run/user/0/bus");
  BOOST_TEST(back.criu_options == manifest.criu_options, boost::test_tools::per_element());
  BOOST_TEST(!back.restored.has_value());

  CheckpointManifest restored = manifest;
  restored.restored = RestoreMark{1'700'000'100'000'000, 80.5};
  auto marked = parse_manifest(manifest_json(restored));
  BOOST_REQUIRE(marked.ok());
  BOOST_REQUIRE(marked.value().restored.has_value());
  BOOST_TEST(marked.value().restored->at_usec == 1'700'000'100'000'000);
  BOOST_TEST(marked.value().restored->restore_ms == 80.5);
}

BOOST_AUTO_TEST_CASE(bad_manifests_say_what_is_wrong)
{
  BOOST_TEST(parse_manifest("{").error().message.starts_with("not JSON: at line 1, column 2: "),
             parse_manifest("{").error().message);
  BOOST_TEST(parse_manifest("[]").error().message == "the file is not a JSON object");
  BOOST_TEST(parse_manifest("{\"format\":7}").error().message ==
             "format 7 is not one this program reads (1 to 2)");
  std::string text = manifest_json(sample_manifest());
  std::string no_pid = text;
  no_pid.replace(no_pid.find("\"pid\":4242"), 5, "\"pud\"");
  BOOST_TEST(parse_manifest(no_pid).error().message == "the file has no \"pid\"");
  std::string bad_names = text;
  bad_names.replace(bad_names.find("[\"org.example.A\""), 1, "[7,");
  BOOST_TEST(parse_manifest(bad_names).error().message ==
             "a connection's \"names\" is not an array of strings");
}

// Issue 12, finding 6: restore handed the manifest's ids and names to the
// bus unchecked.
BOOST_AUTO_TEST_CASE(restore_refuses_manifest_ids_and_names_checkpoint_never_writes)
{
  auto refused = [](void (*spoil)(CheckpointManifest &)) {
    CheckpointManifest manifest = sample_manifest();
    spoil(manifest);
    auto parsed = parse_manifest(manifest_json(manifest));
    return parsed.ok() ? std::string("(accepted)") : parsed.error().message;
  };
  BOOST_TEST(refused([](CheckpointManifest &m) { m.connections[0].id = "../../etc/x"; }) ==
             "\"../../etc/x\" is not a checkpoint id");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.connections[0].unique_name = "org.x"; }) ==
             "\"org.x\" is not a unique bus name");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.connections[0].names = {"-o"}; }) ==
             "\"-o\" is not a well-known bus name");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.processes.push_back(1); }) ==
             "process 1 is no pid criu may restore");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.connections[1].pid = 77; }) ==
             "connection :1.6 has a pid not in the checkpoint");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.criu_options = {"--action-script=/x"}; }) ==
             "\"--action-script=/x\" is not a CRIU option checkpoint records");
  // migrate's page server goes to criu lazy-pages as --address and --port
  BOOST_TEST(refused([](CheckpointManifest &m) { m.page_server = ManifestPageServer{"-L/x", 1}; }) ==
             "\"page_server\" is no address and port criu can connect to");
  BOOST_TEST(refused([](CheckpointManifest &m) { m.page_server = ManifestPageServer{"10.0.0.1", 0}; }) ==
             "\"page_server\" is no address and port criu can connect to");
}

BOOST_AUTO_TEST_CASE(a_migration_names_its_page_server)
{
  CheckpointManifest migration = sample_manifest();
  BOOST_TEST(manifest_json(migration).find("page_server") == std::string::npos);
  migration.page_server = ManifestPageServer{"2001:db8::1", 27000};
  auto parsed = parse_manifest(manifest_json(migration));
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  BOOST_REQUIRE(parsed.value().page_server.has_value());
  BOOST_TEST(parsed.value().page_server->address == "2001:db8::1");
  BOOST_TEST(parsed.value().page_server->port == 27000u);
  BOOST_TEST(!parse_manifest(manifest_json(sample_manifest())).value().page_server.has_value());
}

// Format 1 (0.1.x) had "shell_job" beside "criu_options"; format 2 records
// --shell-job among them, and restore's new session follows from it.
BOOST_AUTO_TEST_CASE(shell_job_is_a_recorded_criu_option)
{
  CheckpointManifest shell_job = sample_manifest();
  shell_job.criu_options = {"--shell-job", "--file-locks"};
  BOOST_TEST(shell_job.restores_in_new_session());
  BOOST_TEST(!sample_manifest().restores_in_new_session());
  const std::string written = manifest_json(shell_job);
  BOOST_TEST(written.starts_with("{\"format\":2,"));
  BOOST_TEST(written.find("shell_job") == std::string::npos, written);

  // A format-1 file as 0.1 wrote it.
  std::string old = manifest_json(sample_manifest());
  old.replace(old.find("\"format\":2"), 10, "\"format\":1");
  const std::string options = "\"criu_options\":[\"--file-locks\"]";
  for (bool old_shell_job : {true, false}) {
    std::string text = old;
    text.replace(text.find(options), options.size(),
                 options + ",\"shell_job\":" + (old_shell_job ? "true" : "false"));
    auto parsed = parse_manifest(text);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(parsed.value().restores_in_new_session() == old_shell_job);
    const std::vector<std::string> expected =
        old_shell_job ? std::vector<std::string>{"--file-locks", "--shell-job"}
                      : std::vector<std::string>{"--file-locks"};
    BOOST_TEST(parsed.value().criu_options == expected, boost::test_tools::per_element());
  }
  std::string not_bool = old;
  not_bool.replace(not_bool.find(options), options.size(), options + ",\"shell_job\":1");
  BOOST_TEST(parse_manifest(not_bool).error().message ==
             "the file's \"shell_job\" is not true or false");
}

// Finding 6: an images directory of any owner and mode was used as root.
BOOST_AUTO_TEST_CASE(images_dir_must_be_root_owned_and_not_writable_by_others)
{
  namespace fs = std::filesystem;
  const fs::path top = fs::temp_directory_path() / ("dcp-trust-" + std::to_string(getpid()));
  fs::remove_all(top);
  fs::create_directory(top);

  const fs::path fresh = top / "new" / "images";
  BOOST_REQUIRE(check_trusted_directory(fresh, true).ok());
  BOOST_TEST(((fs::status(fresh).permissions() & fs::perms::all) == fs::perms::owner_all));
  BOOST_TEST(check_trusted_directory(fresh, false).ok());

  const fs::path open_to_all = top / "open";
  fs::create_directory(open_to_all);
  fs::permissions(open_to_all, fs::perms::all);
  auto r = check_trusted_directory(open_to_all, true);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == open_to_all.string() +
                                      " is writable by group or others (mode 0777): give a "
                                      "directory owned by root, mode 0700, or a new path");

  const fs::path link = top / "link";
  fs::create_directory_symlink(fresh, link);
  r = check_trusted_directory(link, false);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.starts_with(link.string() + " is a symbolic link"));

  const fs::path foreign = top / "foreign";
  fs::create_directory(foreign, fresh);
  BOOST_REQUIRE_EQUAL(::chown(foreign.c_str(), 65534, 65534), 0);
  r = check_trusted_directory(foreign, false);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.starts_with(foreign.string() + " is owned by uid 65534"));
  fs::remove_all(top);
}

// Finding 6: files were opened O_CREAT|O_TRUNC, following a planted symlink.
BOOST_AUTO_TEST_CASE(files_are_replaced_not_written_through_planted_links)
{
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("dcp-links-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directory(dir);
  const fs::path victim = dir / "victim";
  std::ofstream(victim) << "keep";
  fs::create_symlink(victim, dir / "out");
  fs::create_symlink(victim, dir / "out.tmp");
  fs::create_hard_link(victim, dir / "hard");
  BOOST_REQUIRE(replace_file(dir / "out", "new", 0600).ok());
  BOOST_REQUIRE(replace_file(dir / "hard", "new", 0600).ok());
  BOOST_TEST(dcp::test::read_file(victim.string()) == "keep");
  BOOST_TEST(fs::is_regular_file(fs::symlink_status(dir / "out")));
  BOOST_TEST(dcp::test::read_file((dir / "out").string()) == "new");
  BOOST_TEST(!fs::exists(fs::symlink_status(dir / "out.tmp")));
  BOOST_TEST(!read_whole_file(dir / "link-to-victim").ok());
  fs::create_symlink(victim, dir / "link-to-victim");
  BOOST_TEST(!read_whole_file(dir / "link-to-victim").ok(), "not read through a symlink");
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(manifest_files)
{
  const auto dir = std::filesystem::temp_directory_path() /
                   ("dcp-manifest-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  BOOST_TEST(load_manifest(dir).error().message.find("is not a directory that "
                                                            "dbus-checkpoint checkpoint wrote") !=
             std::string::npos);
  BOOST_REQUIRE(save_manifest(dir, sample_manifest()).ok());
  BOOST_TEST(((std::filesystem::status(manifest_path(dir)).permissions() &
               std::filesystem::perms::all) ==
              (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)));
  auto loaded = load_manifest(dir);
  BOOST_REQUIRE(loaded.ok());
  BOOST_TEST(loaded.value().pid == 4242);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(programs)

BOOST_AUTO_TEST_CASE(pids_in_use_until_reaped)
{
  BOOST_TEST(pid_in_use(getpid()));
  BOOST_TEST(wait_until_gone({getpid()}, 20ms) == std::vector<pid_t>{getpid()},
             boost::test_tools::per_element());
  pid_t child = fork();
  if (child == 0)
    _exit(0);
  BOOST_REQUIRE(dcp::test::wait_until([&] { return read_process(child)->state == 'Z'; }, 5s));
  BOOST_TEST(pid_in_use(child), "a zombie's pid is not free");
  BOOST_TEST(process_name(child) != "");
  BOOST_REQUIRE(waitpid(child, nullptr, 0) == child);
  BOOST_TEST(wait_until_gone({child}, 1s).empty());
  BOOST_TEST(process_name(child) == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stop_records)

BOOST_AUTO_TEST_CASE(records_round_trip_through_text_and_files)
{
  StoppedTree by_signals{StopMethod::Signals, 41, {}, {{41, 1000}, {42, 1001}}};
  StoppedTree by_cgroup{StopMethod::CgroupFreezer, 7, "/sys/fs/cgroup/a b/c", {{7, 5}}};
  for (const StoppedTree &stopped : {by_signals, by_cgroup}) {
    auto parsed = parse_stop_record(format_stop_record("abc123", stopped));
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == stopped));
  }
  BOOST_TEST(!parse_stop_record("").has_value());
  BOOST_TEST(!parse_stop_record("something else\nmethod signal\n").has_value());
  BOOST_TEST(!parse_stop_record("{\"format\":\"dbus-checkpoint stopped-in-place 2\","
                                "\"method\":\"cgroup\",\"owner\":7,\"cgroup\":null,"
                                "\"processes\":[]}")
                  .has_value(),
             "a cgroup record names its cgroup");
  BOOST_TEST(!parse_stop_record("{\"format\":\"dbus-checkpoint stopped-in-place 2\","
                                "\"method\":\"signal\",\"owner\":7,\"cgroup\":null,"
                                "\"processes\":[{\"pid\":\"7\",\"start_time\":5}]}")
                  .has_value(),
             "a pid is a number");
  // Found by test/fuzz/fuzz_stop_record: get<pid_t>() of 4e242 is undefined.
  BOOST_TEST(!parse_stop_record("{\"format\":\"dbus-checkpoint stopped-in-place 2\","
                                "\"method\":\"signal\",\"owner\":4E242,\"cgroup\":null,"
                                "\"processes\":[]}")
                  .has_value(),
             "an owner out of range");
  BOOST_TEST(!parse_stop_record("{\"format\":\"dbus-checkpoint stopped-in-place 2\","
                                "\"method\":\"signal\",\"owner\":7,\"cgroup\":null,"
                                "\"processes\":[{\"pid\":7,\"start_time\":12.457}]}")
                  .has_value(),
             "a start time that is not an integer");

  auto dir = std::filesystem::temp_directory_path() /
             ("dcp-stop-records-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  BOOST_REQUIRE(save_stop_record(dir, "abc123", by_signals).ok());
  auto loaded = load_stop_record(dir, "abc123");
  BOOST_REQUIRE(loaded.ok());
  BOOST_REQUIRE(loaded.value().has_value());
  BOOST_TEST((*loaded.value() == by_signals));
  BOOST_TEST(!load_stop_record(dir, "other").value().has_value());
  {
    std::ofstream old(dir / "old0123");
    old << "dbus-checkpoint stopped-in-place 1\nmethod signal\nowner 41\nprocess 41 1000\n";
  }
  auto old = load_stop_record(dir, "old0123");
  BOOST_REQUIRE(!old.ok());
  BOOST_TEST(old.error().message.find("was written by dbus-checkpoint 0.1 (a text record)") !=
                 std::string::npos,
             old.error().message);
  BOOST_TEST(!load_stop_record(dir, "../abc123").value().has_value(), "ids are never paths");
  BOOST_TEST(!save_stop_record(dir, "../x", by_signals).ok());
  remove_stop_record(dir, "abc123");
  BOOST_TEST(!load_stop_record(dir, "abc123").value().has_value());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(in_place)

BOOST_AUTO_TEST_CASE(a_process_tree_stops_and_resumes_whole)
{
  auto log = std::filesystem::temp_directory_path() /
             ("dcp-in-place-" + std::to_string(getpid()) + ".log");
  dcp::test::ChildProcess shell({"sh", "-c", "sleep 60 & sleep 60 & wait"}, log.string());
  std::vector<ProcessInfo> tree;
  BOOST_REQUIRE(dcp::test::wait_until([&] {
    auto found = process_tree(shell.pid());
    tree = found.ok() ? found.value() : std::vector<ProcessInfo>{};
    return tree.size() == 3;
  }, 5s));

  auto stopped = stop_process_tree(shell.pid());
  BOOST_REQUIRE_MESSAGE(stopped.ok(), (stopped.ok() ? "" : stopped.error().describe()));
  BOOST_TEST((stopped.value().method == StopMethod::Signals),
             "the test runs in no cgroup of its own");
  BOOST_TEST(stopped.value().processes.size() == 3u);
  for (const ProcessInfo &process : tree)
    BOOST_TEST(read_process(process.id.pid)->state == 'T', "pid " << process.id.pid);

  BOOST_REQUIRE(resume_process_tree(stopped.value()).ok());
  for (const ProcessInfo &process : tree)
    BOOST_TEST(dcp::test::wait_until([&] { return read_process(process.id.pid)->state != 'T'; },
                                     2s),
               "pid " << process.id.pid);
  for (const ProcessInfo &process : tree)  // the sleeps too, not only the shell
    kill(process.id.pid, SIGKILL);
  std::filesystem::remove(log);
}

BOOST_AUTO_TEST_CASE(refuses_init_and_itself)
{
  BOOST_TEST(!stop_process_tree(1).ok());
  // Our parent's tree holds us (in a pid namespace the parent may be its
  // init, refused as such: then our own tree).
  auto own_tree = stop_process_tree(getppid() == 1 ? getpid() : getppid());
  BOOST_REQUIRE(!own_tree.ok());
  BOOST_TEST(own_tree.error().message.find("dbus-checkpoint itself") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// What checkpoint reads before it freezes: credentials and CAP_SYS_RESOURCE.
BOOST_AUTO_TEST_CASE(dump_checks_read_proc_status)
{
  const std::string status = "Name:\tavahi-daemon\nUid:\t103\t103\t103\t103\nGid:\t106\t106\t106\t106\n"
                             "CapEff:\t000001fffeffffff\n";
  auto credentials = parse_credentials(status);
  BOOST_REQUIRE(credentials);
  BOOST_TEST(credentials.value().uids == (std::vector<std::uint32_t>{103, 103, 103, 103}));
  BOOST_TEST(credentials.value().gids.at(2) == 106u);
  BOOST_TEST(!parse_credentials("Name:\tx\nUid:\t1\t2\n"));
  BOOST_TEST(!has_sys_resource(status), "bit 24 clear");
  BOOST_TEST(has_sys_resource("CapEff:\t000001ffffffffff\n"));
  BOOST_TEST(!has_sys_resource("Name:\tno capabilities line\n"));
}

const CriuAbilities kUpstreamCriu{};
const CriuAbilities kOurCriu = criu_abilities({"rlimits-from-proc", "cgroups-from-proc"});

BOOST_AUTO_TEST_CASE(dump_checks_know_our_patched_criu)
{
  BOOST_TEST(kOurCriu.rlimits_from_proc);
  BOOST_TEST(kOurCriu.cgroups_from_proc);
  BOOST_TEST(!criu_abilities({}).rlimits_from_proc);
  BOOST_TEST(!criu_abilities({"cgroups-from-proc"}).rlimits_from_proc);
  BOOST_TEST(!criu_abilities({"rlimits-from-proc"}).cgroups_from_proc);
}

BOOST_AUTO_TEST_CASE(dump_checks_accept_a_child_of_ours)
{
  dcp::test::ChildProcess child({"sleep", "30"}, "/dev/null", /*new_session=*/true);
  BOOST_REQUIRE(dcp::test::wait_until([&] { return process_name(child.pid()) == "sleep"; },
                                      std::chrono::seconds(5)));  // past its setsid and exec
  auto tree = process_tree(child.pid());
  BOOST_REQUIRE(tree);
  for (const CriuAbilities &abilities : {kUpstreamCriu, kOurCriu}) {
    auto checked = check_criu_can_dump(tree.value(), abilities);
    BOOST_TEST(static_cast<bool>(checked), (checked ? "" : checked.error().message));
  }
}

BOOST_AUTO_TEST_CASE(dump_checks_read_proc_limits)
{
  const std::string text =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max file size             0                    unlimited            bytes     \n"
      "Max stack size            8388608              unlimited            bytes     \n"
      "Max open files            768                  524288               files     \n"
      "Max nice priority         0                    0                    \n"
      "Max realtime timeout      unlimited            unlimited            us        \n";
  auto limits = parse_limits(text);
  BOOST_REQUIRE_MESSAGE(limits, (limits ? "" : limits.error().message));
  BOOST_REQUIRE_EQUAL(limits.value().size(), 6u);
  BOOST_TEST(limits.value()[0].name == "Max cpu time");
  BOOST_TEST(limits.value()[0].soft == kUnlimited);
  BOOST_TEST(limits.value()[1].soft == 0u);
  BOOST_TEST(limits.value()[3].name == "Max open files");
  BOOST_TEST(limits.value()[3].soft == 768u);
  BOOST_TEST(limits.value()[3].hard == 524288u);
  BOOST_TEST(limits.value()[4].name == "Max nice priority", "a row without units");
  BOOST_TEST(limits.value()[5].hard == kUnlimited);
  BOOST_TEST(!parse_limits(""));
  BOOST_TEST(!parse_limits("Max cpu time              unlimited            unlimited            seconds\n"),
             "no header");
  BOOST_TEST(!parse_limits(text + "Max open files            many                 1                    files\n"));
  BOOST_TEST(!parse_limits(text + "Max open files            1\n"), "no hard limit");
  auto own = read_whole_file("/proc/self/limits");
  BOOST_REQUIRE(own);
  auto own_limits = parse_limits(own.value());
  BOOST_REQUIRE_MESSAGE(own_limits, (own_limits ? "" : own_limits.error().message));
  BOOST_TEST(own_limits.value().size() == 16u, "RLIM_NLIMITS rows");
  struct rlimit nofile{};
  BOOST_REQUIRE_EQUAL(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  BOOST_TEST(own_limits.value()[RLIMIT_NOFILE].name == "Max open files");
  BOOST_TEST(own_limits.value()[RLIMIT_NOFILE].hard == nofile.rlim_max);
}

// Runs `check` in a child process (which may change its own limits or
// credentials first) and returns what it said: "" when the check passed.
std::string in_child(const std::function<std::string()> &check)
{
  int pipe_fds[2];
  BOOST_REQUIRE_EQUAL(pipe(pipe_fds), 0);
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    close(pipe_fds[0]);
    const std::string said = check();
    const bool written = write(pipe_fds[1], said.data(), said.size()) == static_cast<ssize_t>(said.size());
    _exit(written ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string said;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
    said.append(buffer, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(child, &status, 0), child);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return said;
}

std::string check_tree(pid_t pid, const CriuAbilities &abilities)
{
  auto tree = process_tree(pid);
  if (!tree)
    return "no tree: " + tree.error().message;
  auto checked = check_criu_can_dump(tree.value(), abilities);
  return checked ? "" : checked.error().message;
}

bool we_have_sys_resource()
{
  auto status = read_whole_file("/proc/self/status");
  BOOST_REQUIRE(status);
  return has_sys_resource(status.value());
}

// A child in a session of its own that switched to uid and gid 65534
// (after a chroot into `root`, if given) and waits; killed when this goes.
class NobodyProcess {
 public:
  explicit NobodyProcess(const std::filesystem::path &root = {}) : pid_(fork())
  {
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (setsid() < 0 || (!root.empty() && (chroot(root.c_str()) != 0 || chdir("/") != 0)) ||
          setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
        _exit(1);
      pause();
      _exit(0);
    }
    const bool switched = dcp::test::wait_until(
        [&] {
          auto status = read_whole_file("/proc/" + std::to_string(pid_) + "/status");
          return status && status.value().find("Uid:\t65534") != std::string::npos;
        },
        5s);
    if (!switched)
      stop();
    BOOST_REQUIRE_MESSAGE(switched, "the child did not become uid 65534");
  }
  NobodyProcess(const NobodyProcess &) = delete;
  NobodyProcess &operator=(const NobodyProcess &) = delete;
  ~NobodyProcess() { stop(); }

  pid_t pid() const { return pid_; }
  void stop()
  {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  pid_t pid_;
};

// A process of another user: an upstream CRIU cannot read its rlimits
// without CAP_SYS_RESOURCE (prlimit), so checkpoint refuses it before the
// freeze; our patched CRIU reads them from /proc/PID/limits.
BOOST_AUTO_TEST_CASE(dump_checks_another_users_process)
{
  BOOST_TEST_REQUIRE(geteuid() == 0u, "needs root, to start a process of another user");
  NobodyProcess nobody;
  const pid_t child = nobody.pid();
  const std::string upstream = check_tree(child, kUpstreamCriu);
  const std::string patched = check_tree(child, kOurCriu);
  if (we_have_sys_resource()) {
    BOOST_TEST(upstream == "");
  } else {
    BOOST_TEST(upstream.find("runs as uid 65534") != std::string::npos, upstream);
    BOOST_TEST(upstream.find("only with CAP_SYS_RESOURCE, and this process lacks it") != std::string::npos,
               upstream);
    BOOST_TEST(upstream.find("use the CRIU built with dbus-checkpoint") != std::string::npos, upstream);
  }
  BOOST_TEST(patched == "");
}

// A process of another user chrooted where there is no /proc (avahi-daemon
// in /etc/avahi): an upstream CRIU's parasite would need /proc there for
// its cgroups and cannot mount one; ours reads them from /proc/PID/cgroup.
BOOST_AUTO_TEST_CASE(dump_checks_a_chrooted_process_without_proc)
{
  BOOST_TEST_REQUIRE(geteuid() == 0u, "needs root, to chroot and start a process of another user");
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("dcp-chroot-" + std::to_string(getpid()));
  std::filesystem::create_directories(root);
  NobodyProcess nobody(root);
  const pid_t child = nobody.pid();
  const std::string without_0003 = check_tree(child, {.rlimits_from_proc = true});
  const std::string ours = check_tree(child, kOurCriu);
  nobody.stop();
  std::filesystem::remove(root);
  BOOST_TEST(without_0003.find("has " + root.string() + " as its root directory, which has no /proc") !=
                 std::string::npos,
             without_0003);
  BOOST_TEST(ours == "");
}

// Our patched criu restore fails on a hard limit above its own without
// CAP_SYS_RESOURCE: checkpoint refuses such a process while it still runs.
// Here a child of ours with a lowered hard RLIMIT_NOFILE checks a sleep
// that kept the higher one.
BOOST_AUTO_TEST_CASE(dump_checks_a_hard_limit_restore_could_not_give_back)
{
  dcp::test::ChildProcess sleeper({"sleep", "30"}, "/dev/null", /*new_session=*/true);
  BOOST_REQUIRE(dcp::test::wait_until([&] { return process_name(sleeper.pid()) == "sleep"; }, 5s));
  struct rlimit nofile{};
  BOOST_REQUIRE_EQUAL(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  BOOST_REQUIRE(nofile.rlim_max > 64);
  const rlim_t lowered = nofile.rlim_max - 1;
  const auto lowered_then = [&](const CriuAbilities &abilities) {
    return in_child([&] {
      struct rlimit lower{std::min(nofile.rlim_cur, lowered), lowered};
      if (setrlimit(RLIMIT_NOFILE, &lower) != 0)
        return std::string("setrlimit failed");
      return check_tree(sleeper.pid(), abilities);
    });
  };
  const std::string patched = lowered_then(kOurCriu);
  if (we_have_sys_resource()) {
    BOOST_TEST(patched == "");
  } else {
    const std::string expected = "has a hard limit 'Max open files' of " + std::to_string(nofile.rlim_max) +
                                 ", above this process's " + std::to_string(lowered);
    BOOST_TEST(patched.find(expected) != std::string::npos, patched);
    BOOST_TEST(patched.find("could give it back only with CAP_SYS_RESOURCE") != std::string::npos, patched);
  }
  BOOST_TEST(lowered_then(kUpstreamCriu) == "", "upstream CRIU restores it with lower limits");
  BOOST_TEST(check_tree(sleeper.pid(), kOurCriu) == "", "same limits");
}

// A process whose session's leader is in an ancestor pid namespace (here:
// the first process of a new pid namespace, still in this test's session)
// is refused before anything is frozen, with the reason.
BOOST_AUTO_TEST_CASE(dump_checks_refuse_a_session_leader_outside_the_pid_namespace)
{
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    if (unshare(CLONE_NEWPID) != 0)
      _exit(10);
    const pid_t inner = fork();
    if (inner < 0)
      _exit(11);
    if (inner == 0) {
      if (getsid(0) != 0)
        _exit(12);  // this test's session leader is visible: not the case we test
      auto checked = check_session_leader_visible(getpid());
      const bool refused = !checked && checked.error().message.find(
                                           "in a session whose leader is outside this pid namespace") !=
                                           std::string::npos;
      _exit(refused ? 0 : 13);
    }
    int status = 0;
    if (waitpid(inner, &status, 0) != inner)
      _exit(14);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 15);
  }
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(child, &status, 0), child);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "exit code " << WEXITSTATUS(status) << " (see the test)");
  BOOST_TEST(static_cast<bool>(check_session_leader_visible(getpid())) == (getsid(0) != 0));
}

// Forks a child that leads a session of its own, runs `prepare` (on false
// it exits) and waits; returns its pid once `prepare` is done, -1 if it
// failed.  stop_child() kills and reaps it.  (No Boost.Test here: used in
// children of in_child too.)
pid_t start_prepared_child(const std::function<bool()> &prepare)
{
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0)
    return -1;
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    if (setsid() < 0 || !prepare() || write(pipe_fds[1], "r", 1) != 1)
      _exit(1);
    pause();
    _exit(0);
  }
  close(pipe_fds[1]);
  char ready = 0;
  const bool started = child > 0 && read(pipe_fds[0], &ready, 1) == 1;
  close(pipe_fds[0]);
  if (child > 0 && !started)
    waitpid(child, nullptr, 0);
  return started ? child : -1;
}

void stop_child(pid_t child)
{
  if (child <= 0)
    return;
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

// A process in a network namespace of its own holding a socket made in
// ours (accounts-daemon under PrivateNetwork=: its journal stream) is
// refused before anything is frozen, naming the fd; criu dump would fail
// on it.  The same process without that socket passes.
BOOST_AUTO_TEST_CASE(dump_checks_refuse_a_socket_of_another_network_namespace)
{
  BOOST_TEST_REQUIRE(geteuid() == 0u, "needs root, to unshare a network namespace");
  const auto sandboxed = [](bool keep_outer_socket) {
    const pid_t child = start_prepared_child([&] {
      int sockets[2];
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0)
        return false;
      if (!keep_outer_socket && (close(sockets[0]) != 0 || close(sockets[1]) != 0))
        return false;
      int inner[2];  // a socket of its own namespace: fine
      return unshare(CLONE_NEWNET) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, inner) == 0;
    });
    const bool started = child > 0;
    std::string said = started ? check_tree(child, kOurCriu) : "the child did not start";
    const std::string direct = started ? [&] {
      auto checked = check_sockets_in_own_network_namespace(child);
      return checked ? std::string() : checked.error().message;
    }() : said;
    stop_child(child);
    BOOST_TEST(said == direct);
    return said;
  };
  const std::string refused = sandboxed(/*keep_outer_socket=*/true);
  BOOST_TEST(refused.find(" is a socket of another one, net:[") != std::string::npos, refused);
  BOOST_TEST(refused.find("CRIU cannot dump a socket of a network namespace outside") != std::string::npos,
             refused);
  BOOST_TEST(refused.find("without PrivateNetwork=") != std::string::npos, refused);
  BOOST_TEST(sandboxed(/*keep_outer_socket=*/false) == "");
  BOOST_TEST(static_cast<bool>(check_sockets_in_own_network_namespace(getpid())));
}

BOOST_AUTO_TEST_CASE(dump_checks_find_a_mount_slave_to_another_namespace)
{
  // accounts-daemon's (systemd's sandbox in a container), shortened.
  const std::string sandboxed =
      "172 128 254:0 /machine / ro,relatime shared:62 master:1 - ext4 /dev/vda rw\n"
      "174 172 0:22 / /sys ro,nosuid,nodev,noexec,relatime shared:79 master:3 - sysfs sysfs rw\n"
      "213 172 0:55 / /dev ro,nosuid,noexec shared:106 - tmpfs tmpfs rw,size=4096k\n"
      "202 194 0:44 /systemd/propagate/a.service /run/systemd/incoming ro master:6 - tmpfs tmpfs rw\n";
  BOOST_TEST(mount_with_outside_master(sandboxed).value_or("none") == "/ (master:1)");
  const std::string internal =
      "10 1 0:22 / / rw shared:1 - ext4 /dev/vda rw\n"
      "11 10 0:23 / /a rw shared:2 - tmpfs tmpfs rw\n"
      "12 10 0:23 / /b rw master:2 - tmpfs tmpfs rw\n"
      "13 10 0:24 / /c rw - tmpfs tmpfs rw\n";
  BOOST_TEST(!mount_with_outside_master(internal), "a slave of a group in the same namespace");
  BOOST_TEST(!mount_with_outside_master(""));
  BOOST_TEST(static_cast<bool>(check_mounts_restorable(getpid())), "our own mount namespace");
}

// A process in a mount namespace of its own, with a mount slave to a peer
// group of another namespace, is refused before anything is frozen.  The
// test makes both namespaces: a child with a shared tmpfs of its own, and
// its child, in a namespace of its own where that tmpfs is a slave.
BOOST_AUTO_TEST_CASE(dump_checks_refuse_a_mount_namespace_slave_to_another)
{
  BOOST_TEST_REQUIRE(geteuid() == 0u, "needs root, to unshare mount namespaces");
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / ("dcp-mounts-" + std::to_string(getpid()));
  std::filesystem::create_directories(directory);
  const std::string said = in_child([&] {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", directory.c_str(), "tmpfs", 0, nullptr) != 0 ||
        mount(nullptr, directory.c_str(), nullptr, MS_SHARED, nullptr) != 0)
      return std::string("could not make a shared tmpfs");
    const pid_t sandboxed = start_prepared_child([&] {
      return unshare(CLONE_NEWNS) == 0 && mount(nullptr, directory.c_str(), nullptr, MS_SLAVE, nullptr) == 0;
    });
    std::string refused = sandboxed > 0 ? check_tree(sandboxed, kOurCriu) : "the sandboxed child did not start";
    stop_child(sandboxed);
    return refused;
  });
  std::filesystem::remove(directory);
  BOOST_TEST(said.find("runs in a mount namespace of its own whose mounts receive mount propagation "
                       "from outside it, e.g. " + directory.string() + " (master:") != std::string::npos,
             said);
  BOOST_TEST(said.find("run the service without its mount sandbox") != std::string::npos, said);
}

// What restore checks instead of sleeping after criu: will a pending signal
// end the restored process as soon as it runs?
BOOST_AUTO_TEST_CASE(fatal_signals_pending_reads_proc_status)
{
  const auto bit = [](int signal) { return std::uint64_t{1} << (signal - 1); };
  const auto status = [](const char *pending, const char *shared, const char *blocked,
                         const char *ignored, const char *caught) {
    return std::string("Name:\tx\nSigQ:\t0/1\nSigPnd:\t") + pending + "\nShdPnd:\t" + shared +
           "\nSigBlk:\t" + blocked + "\nSigIgn:\t" + ignored + "\nSigCgt:\t" + caught + "\n";
  };
  const char *none = "0000000000000000";
  BOOST_TEST(fatal_signals_pending(status(none, none, none, none, none)) == 0u);
  // SIGXFSZ (25) pending for the process, default action: it dies.
  BOOST_TEST(fatal_signals_pending(status(none, "0000000001000000", none, none, none)) == bit(SIGXFSZ));
  BOOST_TEST(fatal_signals_pending(status("0000000001000000", none, "0000000001000000", none, none)) == 0u,
             "blocked");
  BOOST_TEST(fatal_signals_pending(status(none, "0000000001000000", none, "0000000001000000", none)) == 0u,
             "ignored");
  BOOST_TEST(fatal_signals_pending(status(none, "0000000001000000", none, none, "0000000001000000")) == 0u,
             "caught");
  BOOST_TEST(fatal_signals_pending(status(none, "0000000000010000", none, none, none)) == 0u,
             "SIGCHLD does not terminate");
  BOOST_TEST(fatal_signals_pending(status("0000000000000100", none, "ffffffffffffffff", none, none)) ==
                 bit(SIGKILL),
             "SIGKILL cannot be blocked");
}

BOOST_AUTO_TEST_CASE(fatal_signals_pending_of_a_real_process)
{
  // A child that blocks SIGUSR1, then gets it: pending, but not fatal.
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, nullptr);
    raise(SIGUSR1);
    pause();
    _exit(0);
  }
  BOOST_REQUIRE(dcp::test::wait_until(
      [&] {
        const std::string text = dcp::test::read_file("/proc/" + std::to_string(child) + "/status");
        return text.find("ShdPnd:\t0000000000000200") != std::string::npos ||
               text.find("SigPnd:\t0000000000000200") != std::string::npos;
      },
      std::chrono::seconds(5)));
  BOOST_TEST(fatal_signals_pending(child) == 0u, "blocked SIGUSR1 does not end it");
  BOOST_TEST(fatal_signals_pending(getpid()) == 0u);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  BOOST_TEST(fatal_signals_pending(child) == 0u, "no process, nothing pending");
}

// The kept answer of `criu --version`: only for the same executable file.
BOOST_AUTO_TEST_CASE(criu_version_cache_is_per_executable_file)
{
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("dcp-criu-version-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const fs::path run_dir = dir / "run";
  const fs::path criu = dir / "criu";
  fs::create_directories(dir);
  std::ofstream(criu) << "#!/bin/sh\necho Version: 4.2.1\n";
  BOOST_TEST(!cached_criu_version(run_dir, criu).has_value(), "nothing kept yet");
  keep_criu_version(run_dir, criu, "Version: 4.2.1\n");
  BOOST_TEST(((fs::status(run_dir).permissions() & fs::perms::all) == fs::perms::owner_all));
  BOOST_TEST(cached_criu_version(run_dir, criu).value_or("") == "Version: 4.2.1\n");
  BOOST_TEST(!cached_criu_version(run_dir, dir / "other-criu").has_value(), "another path");
  std::ofstream(criu, std::ios::app) << "# rebuilt\n";
  BOOST_TEST(!cached_criu_version(run_dir, criu).has_value(), "the file changed: asked again");
  keep_criu_version(run_dir, criu, "Version: 4.2.2\n");
  fs::permissions(run_dir, fs::perms::others_write, fs::perm_options::add);
  BOOST_TEST(!cached_criu_version(run_dir, criu).has_value(), "an untrusted directory is not read");
  fs::remove_all(dir);
}
