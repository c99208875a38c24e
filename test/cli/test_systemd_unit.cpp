// SPDX-License-Identifier: GPL-2.0-or-later
// checkpoint/cli/systemd_unit: the drop-in that makes a service unit's
// start the restore (where it goes, what it says, what it refuses), and
// the manifest's record of it.  systemd itself is exercised by the booted
// QA (scripts/qa-booted.sh): this machine's PID 1 is not systemd.
#define BOOST_TEST_MODULE cli_systemd_unit
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "cli/manifest.hpp"
#include "cli/systemd_unit.hpp"

using namespace dbus_checkpoint::cli;

namespace {

const std::vector<std::string> kIds{"0123456789abcdef0123456789abcdef"};

std::vector<std::string> restore_argv(const std::string &dir)
{
  return {"/usr/bin/dbus-checkpoint", "--criu", "/usr/lib/dbus-checkpoint/criu", "--plugin-dir",
          "/usr/lib/criu", "--criu-timeout", "120", "restore", "-D", dir};
}

CheckpointManifest manifest_of(const std::string &unit, const std::string &drop_in)
{
  CheckpointManifest manifest;
  manifest.pid = 4242;
  manifest.command = "avahi-daemon";
  manifest.processes = {4242, 4243};
  manifest.bus = "the system bus";
  manifest.connections = {{kIds[0], ":1.5", {"org.freedesktop.Avahi"}, 4242, false, ""}};
  manifest.created_usec = 1'700'000'000'000'000;
  manifest.criu = "/usr/lib/dbus-checkpoint/criu";
  manifest.systemd_unit = ManifestUnit{unit, drop_in};
  return manifest;
}

} // namespace

BOOST_AUTO_TEST_CASE(service_unit_names)
{
  for (const char *name : {"avahi-daemon.service", "getty@tty1.service", "a\\x2db.service"})
    BOOST_TEST(is_service_unit_name(name), name);
  for (const char *name : {"", ".service", "avahi-daemon", "dbus.socket", "a b.service", "../x.service",
                           "a/b.service"})
    BOOST_TEST(!is_service_unit_name(name), name);
}

BOOST_AUTO_TEST_CASE(the_drop_in_survives_a_reboot_unless_the_images_do_not)
{
  BOOST_TEST(drop_in_path("avahi-daemon.service", "/var/lib/dcp/avahi") ==
             "/etc/systemd/system/avahi-daemon.service.d/zz-dbus-checkpoint.conf");
  BOOST_TEST(drop_in_path("avahi-daemon.service", "/run/dcp/avahi") ==
             "/run/systemd/system/avahi-daemon.service.d/zz-dbus-checkpoint.conf");
  BOOST_TEST(drop_in_path("avahi-daemon.service", "/running/avahi") ==
             "/etc/systemd/system/avahi-daemon.service.d/zz-dbus-checkpoint.conf");
  BOOST_TEST(pid_file_path("avahi-daemon.service") == "/run/dbus-checkpoint/avahi-daemon.service.pid");
}

BOOST_AUTO_TEST_CASE(the_drop_in_makes_the_start_the_restore)
{
  auto text = drop_in_text("avahi-daemon.service", "/var/lib/dcp/avahi", kIds, restore_argv("/var/lib/dcp/avahi"));
  BOOST_REQUIRE(text);
  const std::string &t = text.value();
  BOOST_TEST_MESSAGE(t);
  for (const char *line :
       {"\n[Unit]\n", "\nAfter=dbus.service\n", "\n[Service]\n", "\nSuccessExitStatus=SIGKILL\n", "\nRestart=no\n", "\nExecStop=\n", "\nExecStopPost=\n",
        "\nExecReload=\n", "\nType=forking\n", "\nExecStartPre=\n", "\nExecStart=\n",
        "\nExecStart=+/usr/bin/dbus-checkpoint --criu /usr/lib/dbus-checkpoint/criu --plugin-dir /usr/lib/criu "
        "--criu-timeout 120 restore -D /var/lib/dcp/avahi\n",
        "\nPIDFile=/run/dbus-checkpoint/avahi-daemon.service.pid\n", "\nEnvironment=DBUS_CHECKPOINT_UNIT=%n\n",
        "\nExecStartPost=\n", "\n# dbus-checkpoint checkpoint ids: 0123456789abcdef0123456789abcdef\n"})
    BOOST_TEST(t.find(line) != std::string::npos, line);
  // the reset lines come before the new ones
  BOOST_TEST(t.find("\nExecStart=\n") < t.find("\nExecStart=+"));
  BOOST_TEST(t.find("\nExecStartPost=\n") < t.find("\nExecStartPost=-+"));
  BOOST_TEST(t.find(" daemon-reload\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unusual_paths_are_quoted_and_escaped_or_refused)
{
  auto text = drop_in_text("x.service", "/var/lib/my dir/100%$HOME", kIds, restore_argv("/var/lib/my dir/100%$HOME"));
  BOOST_REQUIRE(text);
  BOOST_TEST(text.value().find(" -D \"/var/lib/my dir/100%%$$HOME\"\n") != std::string::npos, text.value());
  for (const char *dir : {"/var/lib/a\"b", "/var/lib/a\\b", "/var/lib/a\nb"})
    BOOST_TEST(!drop_in_text("x.service", dir, kIds, restore_argv(dir)).ok(), dir);
}

BOOST_AUTO_TEST_CASE(the_manifest_names_the_unit)
{
  const std::string drop_in = "/etc/systemd/system/avahi-daemon.service.d/zz-dbus-checkpoint.conf";
  auto parsed = parse_manifest(manifest_json(manifest_of("avahi-daemon.service", drop_in)));
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
  BOOST_REQUIRE(parsed.value().systemd_unit);
  BOOST_TEST(parsed.value().systemd_unit->name == "avahi-daemon.service");
  BOOST_TEST(parsed.value().systemd_unit->drop_in == drop_in);

  CheckpointManifest without = manifest_of("x.service", "");
  without.systemd_unit.reset();
  auto plain = parse_manifest(manifest_json(without));
  BOOST_REQUIRE(plain);
  BOOST_TEST(!plain.value().systemd_unit);

  // restore removes the drop-in it names: only ours, of that unit
  for (const auto &[unit, path] : std::vector<std::pair<std::string, std::string>>{
           {"avahi-daemon.service", "/etc/passwd"},
           {"avahi-daemon.service", "/etc/systemd/system/other.service.d/zz-dbus-checkpoint.conf"},
           {"avahi-daemon.service", "/etc/systemd/system/avahi-daemon.service.d/../../../../etc/passwd"},
           {"../x.service", "/etc/systemd/system/../x.service.d/zz-dbus-checkpoint.conf"}}) {
    auto refused = parse_manifest(manifest_json(manifest_of(unit, path)));
    BOOST_TEST(!refused.ok(), path);
  }
}

BOOST_AUTO_TEST_CASE(a_sandboxed_units_start_restores_inside_its_sandbox)
{
  const std::string dir = "/var/lib/dcp/accounts";
  auto text = drop_in_text("accounts-daemon.service", dir, kIds, restore_argv(dir), true);
  BOOST_REQUIRE(text);
  const std::string &t = text.value();
  BOOST_TEST_MESSAGE(t);
  // root (not the unit's User=), in the unit's namespaces: "!", not "+"
  BOOST_TEST(t.find("\nExecStart=!/usr/bin/dbus-checkpoint --criu /usr/lib/dbus-checkpoint/criu ") !=
             std::string::npos);
  BOOST_TEST(t.find("\nExecStart=+") == std::string::npos);
  for (const char *line :
       {"\nNoNewPrivileges=no\n", "\nSystemCallFilter=\n", "\nSystemCallArchitectures=\n",
        "\nRestrictAddressFamilies=\n", "\nRestrictNamespaces=no\n", "\nLockPersonality=no\n",
        "\nMemoryDenyWriteExecute=no\n", "\nCapabilityBoundingSet=~\n", "\nProcSubset=all\n",
        "\nExecStartPre=-+/bin/sh -c 'test -e /run/criu.kdat || exec /usr/lib/dbus-checkpoint/criu "
        "check >/dev/null 2>&1'\n",
        "\nExecStartPre=+/bin/mkdir -p /run/dbus-checkpoint\n",
        "\nReadWritePaths=/var/lib/dcp/accounts /run/dbus-checkpoint "
        "/etc/systemd/system/accounts-daemon.service.d\n",
        "\nExecStartPost=-+/bin/rmdir /etc/systemd/system/accounts-daemon.service.d\n"})
    BOOST_TEST(t.find(line) != std::string::npos, line);
  // our ExecStartPre= lines come after the reset of the unit's own
  BOOST_TEST(t.find("\nExecStartPre=\n") < t.find("\nExecStartPre=-+"));
  BOOST_TEST(t.find("\nExecStartPost=-+/bin/rmdir") < t.find(" daemon-reload\n"));

  // an unsandboxed unit's drop-in lifts nothing
  auto plain = drop_in_text("avahi-daemon.service", dir, kIds, restore_argv(dir), false);
  BOOST_REQUIRE(plain);
  for (const char *line : {"SystemCallFilter=", "ReadWritePaths=", "NoNewPrivileges="})
    BOOST_TEST(plain.value().find(line) == std::string::npos, line);

  // ReadWritePaths= cannot quote: such a path is refused for a sandbox only
  const std::string odd = "/var/lib/my dir";
  BOOST_TEST(drop_in_text("x.service", odd, kIds, restore_argv(odd), false).ok());
  BOOST_TEST(!drop_in_text("x.service", odd, kIds, restore_argv(odd), true).ok());
}

BOOST_AUTO_TEST_CASE(the_manifest_keeps_the_sandbox)
{
  const std::string drop_in = "/etc/systemd/system/accounts-daemon.service.d/zz-dbus-checkpoint.conf";
  CheckpointManifest manifest = manifest_of("accounts-daemon.service", drop_in);
  manifest.sandbox = ManifestSandbox{{"net", "mnt"}, {"file[65:4]"}};
  auto parsed = parse_manifest(manifest_json(manifest));
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
  BOOST_REQUIRE(parsed.value().sandbox);
  BOOST_TEST(parsed.value().sandbox->namespaces == (std::vector<std::string>{"net", "mnt"}));
  BOOST_TEST(parsed.value().sandbox->outside_files == (std::vector<std::string>{"file[65:4]"}));
  auto without_sandbox = parse_manifest(manifest_json(manifest_of("accounts-daemon.service", drop_in)));
  BOOST_REQUIRE(without_sandbox.ok());
  BOOST_TEST(!without_sandbox.value().sandbox);

  // what restore hands to criu as root comes only in the shapes checkpoint writes
  for (const ManifestSandbox &bad :
       {ManifestSandbox{{"user"}, {}}, ManifestSandbox{{"net"}, {"file[65:4] --exec-cmd"}},
        ManifestSandbox{{"net"}, {"fd[3]:file[65:4]"}}, ManifestSandbox{{"net"}, {"file[x:4]"}}}) {
    manifest.sandbox = bad;
    BOOST_TEST(!parse_manifest(manifest_json(manifest)).ok(), manifest_json(manifest));
  }
  CheckpointManifest without_unit = manifest_of("accounts-daemon.service", drop_in);
  without_unit.systemd_unit.reset();
  without_unit.sandbox = ManifestSandbox{{"net"}, {}};
  BOOST_TEST(!parse_manifest(manifest_json(without_unit)).ok(), "a sandbox restores only as a unit's start");
}
