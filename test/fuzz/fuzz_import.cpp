// SPDX-License-Identifier: GPL-2.0-or-later
// org.freedesktop.DBus.Checkpoint.Import on our running daemon: each input
// is sent as the record; the bus must answer every call (a reply or an
// error), and a record it adopts is discarded again so the next input
// starts from the same bus.  The daemon ($DCP_FUZZ_DBUS_DAEMON) is the fuzz
// tree's, built with ASan + UBSan: a sanitizer report aborts it, and a crash
// or a hang shows as a call that gets no answer, which aborts the run with
// the input.  At the end the daemon is stopped and must exit 0: what it
// leaked (LeakSanitizer) fails the run.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "fuzz_support.hpp"

namespace {

struct Daemon {
  pid_t pid = -1;
  sd_bus *bus = nullptr;
  ~Daemon()
  {
    sd_bus_flush_close_unref(bus);
    if (pid <= 0)
      return;
    kill(pid, SIGTERM);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "fuzz_import: the daemon (pid %d) did not exit 0 after SIGTERM "
                           "(status 0x%x): its sanitizer or leak report is above\n",
                   static_cast<int>(pid), static_cast<unsigned>(status));
      std::_Exit(1);
    }
  }
};

Daemon &daemon()
{
  static Daemon daemon;
  return daemon;
}

void start_daemon()
{
  const char *program = std::getenv("DCP_FUZZ_DBUS_DAEMON");
  if (!program || !*program)
    dcp::fuzz::invariant_failed("set DCP_FUZZ_DBUS_DAEMON to our built dbus-daemon");
  const std::string dir = dcp::fuzz::scratch_dir();
  const std::string socket = dir + "/bus", state = dir + "/state", config = dir + "/bus.conf";
  mkdir(state.c_str(), 0700);
  std::ofstream(config) << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                           "<busconfig>\n  <type>system</type>\n"
                           "  <listen>unix:path=" << socket << "</listen>\n"
                           "  <auth>EXTERNAL</auth>\n"
                           "  <checkpoint_dir>" << state << "</checkpoint_dir>\n"
                           "  <policy context=\"default\">\n"
                           "    <allow user=\"*\"/><allow own=\"*\"/>\n"
                           "    <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\n"
                           "  </policy>\n"
                           "  <policy user=\"root\">\n"
                           "    <allow send_destination=\"org.freedesktop.DBus\"\n"
                           "           send_interface=\"org.freedesktop.DBus.Checkpoint\"/>\n"
                           "  </policy>\n</busconfig>\n";
  const pid_t pid = fork();
  dcp::fuzz::require(pid >= 0, "fork");
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);  // its log: stderr, the fuzzer's
    close_range(3, ~0U, 0);
    const std::string config_option = "--config-file=" + config;
    execl(program, program, config_option.c_str(), "--nofork", "--nopidfile", nullptr);
    _exit(127);
  }
  daemon().pid = pid;
  for (int attempt = 0; attempt < 500 && access(socket.c_str(), F_OK) != 0; attempt++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  dcp::fuzz::require(sd_bus_new(&daemon().bus) >= 0, "sd_bus_new");
  const std::string address = "unix:path=" + socket;
  dcp::fuzz::require(sd_bus_set_address(daemon().bus, address.c_str()) >= 0, "sd_bus_set_address");
  dcp::fuzz::require(sd_bus_set_bus_client(daemon().bus, 1) >= 0, "sd_bus_set_bus_client");
  dcp::fuzz::require(sd_bus_start(daemon().bus) >= 0, "connect to the daemon");
}

// Import(bytes) → the id it adopted, "" if the bus refused the record.
std::string import(const std::uint8_t *data, std::size_t size)
{
  sd_bus_message *call = nullptr, *reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  dcp::fuzz::require(sd_bus_message_new_method_call(daemon().bus, &call, "org.freedesktop.DBus",
                                                    "/org/freedesktop/DBus",
                                                    "org.freedesktop.DBus.Checkpoint", "Import") >= 0,
                     "new Import call");
  dcp::fuzz::require(sd_bus_message_append_array(call, 'y', data, size) >= 0, "append the record");
  const int r = sd_bus_call(daemon().bus, call, 5'000'000, &error, &reply);
  sd_bus_message_unref(call);
  std::string id;
  if (r >= 0) {
    const char *text = nullptr;
    dcp::fuzz::require(sd_bus_message_read(reply, "s", &text) >= 0, "Import answers an id");
    id = text;
  } else {
    // An error from the bus is an answer; no answer (the bus died, hung) is not.
    dcp::fuzz::require(sd_bus_error_is_set(&error) && !sd_bus_error_has_name(&error, SD_BUS_ERROR_NO_REPLY) &&
                           !sd_bus_error_has_name(&error, SD_BUS_ERROR_TIMEOUT) &&
                           !sd_bus_error_has_name(&error, SD_BUS_ERROR_DISCONNECTED),
                       "the bus answers Import");
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  return id;
}

void discard(const std::string &id)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  const int r = sd_bus_call_method(daemon().bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus.Checkpoint", "Discard", &error, nullptr, "s",
                                   id.c_str());
  if (r < 0)
    std::fprintf(stderr, "Discard %s: %s\n", id.c_str(), error.message ? error.message : "?");
  sd_bus_error_free(&error);
  dcp::fuzz::require(r >= 0, "an adopted record can be discarded");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  start_daemon();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  if (size > 1 << 20)
    return -1;  // the bus's own message limit applies before Import; not our parser
  const std::string id = import(data, size);
  if (!id.empty())
    discard(id);
  return 0;
}
