// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-sample-sdbus: the sample system-bus service on libsystemd's sd-bus.
//
// Tests checkpoint it with CRIU and check that it continues where it was,
// so it is deliberately plain: one thread, one socket (the bus), a
// sd_bus_process/sd_bus_wait loop instead of sd-event (no epoll, timerfd or
// signalfd to restore), and all state in a few plain members.
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <getopt.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr const char *kProgram = "dcp-sample-sdbus";
constexpr const char *kDefaultName = "org.dbuscheckpoint.Sample";
constexpr const char *kObjectPath = "/org/dbuscheckpoint/Sample";
constexpr const char *kInterface = "org.dbuscheckpoint.Sample1";
constexpr int kUsageExit = 2;

constexpr const char *kHelp = R"(Usage: dcp-sample-sdbus [OPTION]...
Sample D-Bus service (sd-bus) on the SYSTEM bus ($DBUS_SYSTEM_BUS_ADDRESS is
honored).  Exports /org/dbuscheckpoint/Sample with interface
org.dbuscheckpoint.Sample1: Increment() -> t, Get() -> t, Echo(s) -> s,
Busy(u ms), CallPeer(s destination), GetPeerReplies() -> as, GetPokes() -> t,
Quit(); signal Changed(t).  Counts Poke signals of that interface.

  --name NAME         bus name to own (default org.dbuscheckpoint.Sample)
  --init-ms N         sleep N ms before connecting (simulated slow start-up)
  --heap-mb N         allocate N MiB, touch every page, keep it until exit
  --ready-file PATH   once ready, write the unique name and a newline to
                      PATH.tmp and rename it to PATH
  --help              show this help and exit

Exit status: 0 after Quit(), 1 on a bus error, 2 on bad options.
)";

struct Options {
  std::string name = kDefaultName;
  unsigned init_ms = 0;
  unsigned heap_mb = 0;
  std::string ready_file;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BusFailure : std::runtime_error {
  BusFailure(const std::string &what, int negative_errno)
      : std::runtime_error(what + ": " + std::strerror(-negative_errno)) {}
};

int check(int r, const std::string &what)
{
  if (r < 0)
    throw BusFailure(what, r);
  return r;
}

using Bus = std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)>;
using Message = std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)>;

unsigned parse_count(const char *option, const char *text)
{
  std::string_view view(text);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec != std::errc() || end != view.data() + view.size())
    throw UsageError(std::string(option) + " needs a non-negative integer, not '" + text + "'");
  return value;
}

Options parse_options(int argc, char **argv)
{
  enum { kName = 1, kInitMs, kHeapMb, kReadyFile, kHelpOption };
  const struct option long_options[] = {
      {"name", required_argument, nullptr, kName},
      {"init-ms", required_argument, nullptr, kInitMs},
      {"heap-mb", required_argument, nullptr, kHeapMb},
      {"ready-file", required_argument, nullptr, kReadyFile},
      {"help", no_argument, nullptr, kHelpOption},
      {nullptr, 0, nullptr, 0},
  };
  Options options;
  opterr = 0;  // we print our own message
  int option;
  while ((option = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
    switch (option) {
    case kName: options.name = optarg; break;
    case kInitMs: options.init_ms = parse_count("--init-ms", optarg); break;
    case kHeapMb: options.heap_mb = parse_count("--heap-mb", optarg); break;
    case kReadyFile: options.ready_file = optarg; break;
    case kHelpOption: std::fputs(kHelp, stdout); std::exit(0);
    default:
      throw UsageError(std::string("unknown option or missing value: ") + argv[optind - 1]);
    }
  }
  if (optind < argc)
    throw UsageError(std::string("unexpected argument: ") + argv[optind]);
  return options;
}

// Sleeps the whole time even if a signal (e.g. CRIU's ptrace) interrupts.
void sleep_ms(unsigned ms)
{
  struct timespec left{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {
  }
}

// Resident memory the tests can measure (and CRIU has to dump).
std::vector<unsigned char> allocate_touched_heap(unsigned megabytes)
{
  std::vector<unsigned char> heap(static_cast<size_t>(megabytes) << 20);
  // volatile: the writes must reach every page, whatever the optimizer thinks.
  volatile unsigned char *bytes = heap.data();
  for (size_t offset = 0; offset < heap.size(); offset += 4096)
    bytes[offset] = static_cast<unsigned char>(offset >> 12);
  return heap;
}

void write_ready_file(const std::string &path, const std::string &unique_name)
{
  // Write-then-rename: a reader never sees a half-written file.
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << unique_name << "\n";
    if (!out.flush())
      throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

class SampleService {
 public:
  SampleService(sd_bus *bus, std::string well_known_name)
      : bus_(bus), well_known_name_(std::move(well_known_name)) {}

  static const sd_bus_vtable vtable[];

  bool quit_requested() const { return quit_requested_; }

  static int on_poke(sd_bus_message *, void *userdata, sd_bus_error *)
  {
    self(userdata).pokes_++;
    return 0;
  }

 private:
  static SampleService &self(void *userdata) { return *static_cast<SampleService *>(userdata); }

  static int increment(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    SampleService &service = self(userdata);
    uint64_t value = ++service.counter_;
    // Signal before reply: a caller holding reply N already has Changed(N) queued.
    int r = sd_bus_emit_signal(service.bus_, kObjectPath, kInterface, "Changed", "t", value);
    if (r < 0)
      return r;
    return sd_bus_reply_method_return(call, "t", value);
  }

  static int get(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    return sd_bus_reply_method_return(call, "t", self(userdata).counter_);
  }

  static int echo(sd_bus_message *call, void *, sd_bus_error *)
  {
    const char *text = nullptr;
    int r = sd_bus_message_read(call, "s", &text);
    if (r < 0)
      return r;
    return sd_bus_reply_method_return(call, "s", text);
  }

  static int busy(sd_bus_message *call, void *, sd_bus_error *)
  {
    uint32_t ms = 0;
    int r = sd_bus_message_read(call, "u", &ms);
    if (r < 0)
      return r;
    sleep_ms(ms);  // on purpose: nothing reads the socket meanwhile
    return sd_bus_reply_method_return(call, "");
  }

  static int call_peer(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    SampleService &service = self(userdata);
    const char *destination = nullptr;
    int r = sd_bus_message_read(call, "s", &destination);
    if (r < 0)
      return r;
    std::string greeting = "from " + service.well_known_name_;
    // Floating slot: the pending call belongs to the bus until its reply.
    r = sd_bus_call_method_async(service.bus_, nullptr, destination, kObjectPath, kInterface,
                                 "Echo", on_peer_reply, &service, "s", greeting.c_str());
    if (r < 0)
      return r;
    return sd_bus_reply_method_return(call, "");
  }

  static int on_peer_reply(sd_bus_message *reply, void *userdata, sd_bus_error *)
  {
    SampleService &service = self(userdata);
    if (sd_bus_message_is_method_error(reply, nullptr)) {
      service.peer_replies_.push_back(std::string("error: ") +
                                      sd_bus_message_get_error(reply)->name);
      return 0;
    }
    const char *text = nullptr;
    if (sd_bus_message_read(reply, "s", &text) < 0)
      service.peer_replies_.push_back("error: unreadable reply");
    else
      service.peer_replies_.emplace_back(text);
    return 0;
  }

  static int get_peer_replies(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    sd_bus_message *raw = nullptr;
    int r = sd_bus_message_new_method_return(call, &raw);
    if (r < 0)
      return r;
    Message reply(raw, &sd_bus_message_unref);
    if ((r = sd_bus_message_open_container(reply.get(), 'a', "s")) < 0)
      return r;
    for (const auto &text : self(userdata).peer_replies_)
      if ((r = sd_bus_message_append(reply.get(), "s", text.c_str())) < 0)
        return r;
    if ((r = sd_bus_message_close_container(reply.get())) < 0)
      return r;
    return sd_bus_send(nullptr, reply.get(), nullptr);
  }

  static int get_pokes(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    return sd_bus_reply_method_return(call, "t", self(userdata).pokes_);
  }

  static int quit(sd_bus_message *call, void *userdata, sd_bus_error *)
  {
    self(userdata).quit_requested_ = true;  // the loop ends; main flushes the reply
    return sd_bus_reply_method_return(call, "");
  }

  sd_bus *bus_;
  std::string well_known_name_;
  uint64_t counter_ = 0;
  uint64_t pokes_ = 0;
  std::vector<std::string> peer_replies_;
  bool quit_requested_ = false;
};

// UNPRIVILEGED everywhere: the bus policy decides who may call, as for the
// other two libraries.  Without it sd-bus, on a system bus, asks the bus for
// each caller's credentials (a synchronous GetConnectionCredentials inside
// the dispatch), requires CAP_SYS_ADMIN, and silently drops calls whose
// NO_REPLY_EXPECTED sender has already gone.
constexpr uint64_t kAnyCaller = SD_BUS_VTABLE_UNPRIVILEGED;

const sd_bus_vtable SampleService::vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Increment", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", value), increment,
                            kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", value), get, kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("Echo", SD_BUS_ARGS("s", text), SD_BUS_RESULT("s", text), echo,
                            kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("Busy", SD_BUS_ARGS("u", ms), SD_BUS_NO_RESULT, busy, kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("CallPeer", SD_BUS_ARGS("s", destination), SD_BUS_NO_RESULT,
                            call_peer, kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("GetPeerReplies", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", replies),
                            get_peer_replies, kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("GetPokes", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", count), get_pokes,
                            kAnyCaller),
    SD_BUS_METHOD_WITH_ARGS("Quit", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, quit, kAnyCaller),
    SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("t", value), 0),
    SD_BUS_VTABLE_END,
};

Bus connect_system_bus()
{
  sd_bus *raw = nullptr;
  check(sd_bus_open_system(&raw), "connect to the system bus");
  return Bus(raw, &sd_bus_flush_close_unref);
}

int run(const Options &options)
{
  auto heap = allocate_touched_heap(options.heap_mb);
  sleep_ms(options.init_ms);

  Bus bus = connect_system_bus();
  SampleService service(bus.get(), options.name);
  // Slots are floating (owned by the bus): they live exactly as long as it.
  check(sd_bus_add_object_vtable(bus.get(), nullptr, kObjectPath, kInterface,
                                 SampleService::vtable, &service),
        "export " + std::string(kObjectPath));
  // Synchronous AddMatch: a Poke sent after readiness is never missed.
  check(sd_bus_match_signal(bus.get(), nullptr, nullptr, nullptr, kInterface, "Poke",
                            SampleService::on_poke, &service),
        "add match for Poke");
  check(sd_bus_request_name(bus.get(), options.name.c_str(), 0), "own " + options.name);
  const char *unique_name = nullptr;
  check(sd_bus_get_unique_name(bus.get(), &unique_name), "get unique name");
  std::printf("%s: %s owns %s (pid %d)\n", kProgram, unique_name, options.name.c_str(),
              static_cast<int>(getpid()));
  std::fflush(stdout);
  if (!options.ready_file.empty())
    write_ready_file(options.ready_file, unique_name);

  while (!service.quit_requested()) {
    int r = check(sd_bus_process(bus.get(), nullptr), "process bus");
    if (r > 0)
      continue;
    r = sd_bus_wait(bus.get(), UINT64_MAX);
    if (r < 0 && r != -EINTR)
      check(r, "wait for bus");
  }
  check(sd_bus_flush(bus.get()), "flush the Quit reply");
  return 0;
}

} // namespace

int main(int argc, char **argv)
{
  try {
    return run(parse_options(argc, argv));
  } catch (const UsageError &e) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", kProgram, e.what(), kProgram);
    return kUsageExit;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: %s\n", kProgram, e.what());
    return 1;
  }
}
