// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-checkpoint: what org.freedesktop.DBus.Checkpoint costs on our
// patched daemon, without CRIU:
//   - Freeze -> its reply, -> the NameFrozen error seen by a caller, -> the
//     NameFrozen signal seen by a peer, with 1, 100 and 1,000 other idle
//     peers connected (Hello done, no match rules);
//   - Thaw -> its reply, -> the first queued message delivered to the
//     thawed connection;
//   - the daemon's resident memory per frozen connection (100 frozen
//     connections; then with 1,000 signals queued for each);
//   - load (issue 12): 1,000 callers of a frozen name at once, and an
//     unprivileged flood of NO_REPLY calls to it (with and without fds):
//     every caller answered, the daemon's RSS before and after, and how
//     long the bus takes meanwhile to answer someone else;
//   - a big record (issue 12, finding 5): a frozen connection's queue grows
//     to 48 MiB, and its record is rebuilt, written and fsynced on the
//     bus's main loop: another peer's GetId, timed every 5 ms meanwhile.
// The frozen service is a BenchPeer: a thread of this process, so that its
// receive times are on this process's clock.
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_bus.hpp"
#include "bench_peer.hpp"
#include "bench_support.hpp"
#include "bus_client.hpp"
#include "checkpoint_calls.hpp"
#include "no_reply_flood.hpp"
#include "sample_service.hpp"

using namespace dcp;
using namespace dcp::bench;
using namespace std::chrono_literals;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-checkpoint [--runs N] [--scale F] [--json FILE]
Freeze/Thaw latencies and memory per frozen connection on our patched
dbus-daemon (private system bus).  Latencies take 4*N trials per peer count,
memory and load N runs each (N >= 5, default 5).  --scale multiplies the
number of connections frozen for the memory figure (default 1: 100), of
callers of a frozen name (1,000) and of flooding calls (20,000); --json
appends the figures to FILE.
)";

constexpr const char *kPeerName = "org.dbuscheckpoint.BenchPeer";
constexpr unsigned kIdlePeerCounts[] = {1, 100, 1000};
constexpr std::size_t kQueuedSignals = 1000;

// Room for 1,000 idle peers and more on a system bus (256 per uid by default).
constexpr const char *kManyConnections =
    "<limit name=\"max_connections_per_user\">5000</limit>\n"
    "<limit name=\"max_completed_connections\">5000</limit>";

// The harness's freeze() and thaw() are Boost.Test assertions; these throw.
std::string freeze(sd_bus *admin, const std::string &name)
{
  test::CallResult r = test::call(admin, test::checkpoint_method("Freeze"), "s", name.c_str());
  if (!r.ok())
    throw std::runtime_error("Freeze " + name + ": " + r.describe());
  return test::read_string(r.reply.get());
}

void thaw(sd_bus *admin, const std::string &id)
{
  test::CallResult r = test::call(admin, test::checkpoint_method("Thaw"), "s", id.c_str());
  if (!r.ok())
    throw std::runtime_error("Thaw " + id + ": " + r.describe());
}

// A bus round trip: everything `bus` sent before has been dispatched.
void bus_round_trip(sd_bus *bus)
{
  test::call(bus, test::bus_method("org.freedesktop.DBus", "GetId"));
}

// A Freeze call sent without waiting; finish() collects the checkpoint id.
class PendingFreeze {
 public:
  PendingFreeze(sd_bus *admin, const std::string &name) : admin_(admin)
  {
    auto m = test::checkpoint_method("Freeze");
    sd_bus_slot *slot = nullptr;
    if (sd_bus_call_method_async(admin, &slot, m.destination.c_str(), m.path.c_str(),
                                 m.interface.c_str(), m.member.c_str(), on_reply, this, "s",
                                 name.c_str()) < 0 ||
        sd_bus_flush(admin) < 0)
      throw std::runtime_error("cannot send Freeze " + name);
    slot_.reset(slot);
  }
  std::string finish()
  {
    if (!test::process_until(admin_, [&] { return answered_; }, 30s) || id_.empty())
      throw std::runtime_error("Freeze: no checkpoint id");
    return id_;
  }

 private:
  static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *)
  {
    auto &pending = *static_cast<PendingFreeze *>(userdata);
    pending.answered_ = true;
    const char *id = nullptr;
    if (!sd_bus_message_is_method_error(reply, nullptr) &&
        sd_bus_message_read(reply, "s", &id) > 0)
      pending.id_ = id;
    return 0;
  }
  sd_bus *admin_;
  bool answered_ = false;
  std::string id_;
  test::SdBusSlot slot_;
};

// The connections one latency series needs, on a bus with `idle` idle peers.
class LatencyBench {
 public:
  explicit LatencyBench(unsigned idle_peers)
      : peer_(kPeerName), admin_(test::open_system_bus()),
        caller_(test::open_system_bus()), watcher_(test::open_system_bus()),
        frozen_signals_(watcher_.get(),
                        std::string("type='signal',interface='") + test::kCheckpointInterface +
                            "',member='NameFrozen',arg0='" + kPeerName + "'")
  {
    for (unsigned i = 0; i < idle_peers; i++)
      idle_.push_back(test::open_system_bus());
  }

  double freeze_to_reply()
  {
    auto start = Clock::now();
    std::string id = freeze(admin_.get(), kPeerName);
    double ms = milliseconds_between(start, Clock::now());
    thaw(admin_.get(), id);
    return ms;
  }

  // Echo until the caller gets NameFrozen instead of an answer.
  double freeze_to_error()
  {
    auto start = Clock::now();
    PendingFreeze pending(admin_.get(), kPeerName);
    auto echo = echo_method(kPeerName);
    while (true) {
      test::CallResult r = test::call(caller_.get(), echo, "s", "ping");
      if (r.ok())
        continue;
      if (r.error_name != test::kNameFrozen)
        throw std::runtime_error("Echo while freezing: " + r.describe());
      break;
    }
    double ms = milliseconds_between(start, Clock::now());
    thaw(admin_.get(), pending.finish());
    return ms;
  }

  double freeze_to_signal()
  {
    // NameFrozen signals of the other trials are read first, not taken for this one's.
    test::process_until(watcher_.get(), [] { return false; }, 0ms);
    std::size_t seen = frozen_signals_.signals().size();
    auto start = Clock::now();
    PendingFreeze pending(admin_.get(), kPeerName);
    if (!frozen_signals_.wait_for(seen + 1, 10s))
      throw std::runtime_error("no NameFrozen signal");
    double ms = milliseconds_between(start, Clock::now());
    thaw(admin_.get(), pending.finish());
    return ms;
  }

  struct ThawTimes {
    double reply_ms;
    double delivered_ms;
  };

  // A Ping queued while frozen; Thaw; when the peer's thread receives it.
  ThawTimes thaw_to_delivery()
  {
    std::string id = freeze(admin_.get(), kPeerName);
    std::uint64_t seen = peer_.pings();
    emit_bench_signal(caller_.get(), kPingSignal, seen);
    bus_round_trip(caller_.get());  // the Ping is in the frozen queue now
    auto start = Clock::now();
    thaw(admin_.get(), id);
    double reply_ms = milliseconds_between(start, Clock::now());
    auto delivered = peer_.wait_for_ping_after(seen, 10s);
    if (!delivered)
      throw std::runtime_error("the queued Ping was not delivered after Thaw");
    return {reply_ms, milliseconds_between(start, *delivered)};
  }

 private:
  BenchPeer peer_;
  test::SdBus admin_;
  test::SdBus caller_;
  test::SdBus watcher_;
  test::SignalCollector frozen_signals_;
  std::vector<test::SdBus> idle_;
};

void measure_latencies(Report &report, unsigned idle_peers, unsigned trials)
{
  progress("latencies with " + std::to_string(idle_peers) + " idle peers");
  BenchBus bus(Daemon::Ours, kManyConnections);
  LatencyBench bench(idle_peers);
  Samples reply, error, signal, thaw_reply, thaw_delivered;
  for (unsigned i = 0; i < trials; i++) {
    reply.add(bench.freeze_to_reply());
    error.add(bench.freeze_to_error());
    signal.add(bench.freeze_to_signal());
    auto thawed = bench.thaw_to_delivery();
    thaw_reply.add(thawed.reply_ms);
    thaw_delivered.add(thawed.delivered_ms);
  }
  std::string peers = std::to_string(idle_peers) + " peers";
  report.add({"latency", "Freeze -> reply", peers, "ms", reply});
  report.add({"latency", "Freeze -> NameFrozen error at caller", peers, "ms", error});
  report.add({"latency", "Freeze -> NameFrozen signal at peer", peers, "ms", signal});
  report.add({"latency", "Thaw -> reply", peers, "ms", thaw_reply});
  report.add({"latency", "Thaw -> first queued message delivered", peers, "ms",
              thaw_delivered});
}

// Connections that match Ping signals and never read: once frozen, every
// Ping emitted is queued for each of them in the daemon.
std::vector<test::SdBus> connect_ping_listeners(std::size_t count)
{
  std::vector<test::SdBus> listeners;
  for (std::size_t i = 0; i < count; i++) {
    listeners.push_back(test::open_system_bus());
    if (sd_bus_add_match(listeners.back().get(), nullptr, bench_signal_rule(kPingSignal).c_str(),
                         nullptr, nullptr) < 0)
      throw std::runtime_error("AddMatch Ping failed");
  }
  return listeners;
}

struct MemoryPerConnection {
  double frozen_kib;
  double frozen_with_queue_kib;
};

MemoryPerConnection measure_memory_once(std::size_t connections)
{
  BenchBus bus(Daemon::Ours, kManyConnections);
  test::SdBus admin = test::open_system_bus();
  std::vector<test::SdBus> listeners = connect_ping_listeners(connections);
  bus_round_trip(admin.get());
  const pid_t daemon = bus.config().pid();
  const double before = static_cast<double>(test::resident_set_kib(daemon));
  for (const auto &listener : listeners) {
    const char *unique = nullptr;
    sd_bus_get_unique_name(listener.get(), &unique);
    freeze(admin.get(), unique);
  }
  const double frozen = static_cast<double>(test::resident_set_kib(daemon));
  for (std::size_t i = 0; i < kQueuedSignals; i++)
    emit_bench_signal(admin.get(), kPingSignal, i);
  bus_round_trip(admin.get());
  const double queued = static_cast<double>(test::resident_set_kib(daemon));
  const double n = static_cast<double>(connections);
  return {(frozen - before) / n, (queued - before) / n};
}

void measure_memory(Report &report, const BenchOptions &options)
{
  std::size_t connections = scaled(100, options);
  Samples frozen, with_queue;
  for (unsigned run = 1; run <= options.runs; run++) {
    progress("memory run " + std::to_string(run) + "/" + std::to_string(options.runs));
    MemoryPerConnection m = measure_memory_once(connections);
    frozen.add(m.frozen_kib);
    with_queue.add(m.frozen_with_queue_kib);
  }
  std::string subject = "N=" + std::to_string(connections);
  report.add({"memory", "VmRSS per frozen connection", subject, "KiB", frozen});
  report.add({"memory", "... with 1000 queued signals each", subject, "KiB", with_queue});
}


// ---- Load (issue 12) -------------------------------------------------

constexpr const char *kNameFrozenError = "org.freedesktop.DBus.Error.NameFrozen";
constexpr uid_t kNobody = 65534;

double round_trip_ms(sd_bus *bus)
{
  const auto started = Clock::now();
  bus_round_trip(bus);
  return milliseconds_between(started, Clock::now());
}

// Answers to calls sent without waiting, by error name.
struct Answers {
  std::size_t total = 0;
  std::size_t name_frozen = 0;
  static int count(sd_bus_message *reply, void *userdata, sd_bus_error *)
  {
    auto &answers = *static_cast<Answers *>(userdata);
    const sd_bus_error *error = sd_bus_message_get_error(reply);
    answers.total++;
    answers.name_frozen += error && std::strcmp(error->name, kNameFrozenError) == 0;
    return 0;
  }
};

void measure_many_callers(Report &report, const BenchOptions &options)
{
  const std::size_t callers_count = scaled(1000, options);
  Samples all_answered, frozen_answers, other_round_trip;
  for (unsigned run = 1; run <= options.runs; run++) {
    progress("load: " + std::to_string(callers_count) + " callers, run " + std::to_string(run) + "/" +
             std::to_string(options.runs));
    BenchBus bus(Daemon::Ours, kManyConnections);
    BenchPeer peer(kPeerName);
    test::SdBus admin = test::open_system_bus();
    test::SdBus other = test::open_system_bus();
    const std::string id = freeze(admin.get(), kPeerName);
    std::vector<test::SdBus> callers;
    for (std::size_t i = 0; i < callers_count; i++)
      callers.push_back(test::open_system_bus());
    Answers answers;
    std::vector<test::SdBusSlot> slots;
    const test::MethodCall echo = echo_method(kPeerName);
    const auto started = Clock::now();
    for (test::SdBus &caller : callers) {
      sd_bus_slot *slot = nullptr;
      if (sd_bus_call_method_async(caller.get(), &slot, echo.destination.c_str(), echo.path.c_str(),
                                   echo.interface.c_str(), echo.member.c_str(), Answers::count,
                                   &answers, "s", "load") < 0 ||
          sd_bus_flush(caller.get()) < 0)
        throw std::runtime_error("cannot send a call to the frozen name");
      slots.emplace_back(slot);
    }
    // The bus has 1,000 calls to answer: how long does someone else wait?
    other_round_trip.add(round_trip_ms(other.get()));
    const auto deadline = started + 20s;
    while (answers.total < callers_count && Clock::now() < deadline)
      for (test::SdBus &caller : callers)
        while (sd_bus_process(caller.get(), nullptr) > 0) {
        }
    if (answers.total < callers_count)
      throw std::runtime_error(std::to_string(callers_count - answers.total) +
                               " callers of the frozen name got no answer in 20 s");
    all_answered.add(milliseconds_between(started, Clock::now()));
    frozen_answers.add(static_cast<double>(answers.name_frozen));
    thaw(admin.get(), id);
  }
  const std::string subject = std::to_string(callers_count) + " callers";
  report.add({"load", "all answered (first sent -> last answer)", subject, "ms", all_answered});
  report.add({"load", "answers that were NameFrozen", subject, "count", frozen_answers});
  report.add({"load", "another peer's GetId meanwhile", subject, "ms", other_round_trip});
}

void measure_flood(Report &report, const BenchOptions &options, bool with_fd)
{
  const unsigned count = static_cast<unsigned>(scaled(20000, options));
  Samples rss_before, rss_after, round_trip_median, round_trip_max, limits_exceeded, not_supported;
  for (unsigned run = 1; run <= options.runs; run++) {
    progress(std::string("load: flood of NO_REPLY calls") + (with_fd ? " with fds" : "") + ", run " +
             std::to_string(run) + "/" + std::to_string(options.runs));
    BenchBus bus(Daemon::Ours, kManyConnections);
    BenchPeer peer(kPeerName);
    test::SdBus admin = test::open_system_bus();
    test::SdBus other = test::open_system_bus();
    const std::string id = freeze(admin.get(), kPeerName);
    const pid_t daemon = bus.config().pid();
    rss_before.add(static_cast<double>(test::resident_set_kib(daemon)));
    test::NoReplyFlood flood(echo_method(kPeerName), "flood", count, kNobody, with_fd);
    Samples during;
    while (!flood.done()) {
      during.add(round_trip_ms(other.get()));
      std::this_thread::sleep_for(5ms);
    }
    const test::FloodResult tally = flood.finish();
    rss_after.add(static_cast<double>(test::resident_set_kib(daemon)));
    if (!during.empty()) {
      round_trip_median.add(during.median());
      round_trip_max.add(during.max());
    }
    limits_exceeded.add(tally.limits_exceeded);
    not_supported.add(tally.not_supported);
    thaw(admin.get(), id);
  }
  const std::string subject = std::to_string(count) + (with_fd ? " with fds" : " calls");
  report.add({"flood", "daemon VmRSS before", subject, "KiB", rss_before});
  report.add({"flood", "daemon VmRSS after", subject, "KiB", rss_after});
  report.add({"flood", "another peer's GetId, median", subject, "ms",
              round_trip_median});
  report.add({"flood", "another peer's GetId, slowest", subject, "ms", round_trip_max});
  report.add({"flood", "LimitsExceeded answers", subject, "count", limits_exceeded});
  report.add({"flood", "NotSupported answers", subject, "count", not_supported});
}

// A frozen connection whose queue holds `megabytes` signals of 1 MiB: its
// record is rewritten (after 100 ms + 1 ms per 16 KiB queued) on the main
// loop while another peer's GetId is timed every 5 ms, for `window`.
void measure_big_record(Report &report, const BenchOptions &options)
{
  constexpr unsigned kMegabytes = 48;
  constexpr auto kWindow = 6s;
  Samples median, slowest;
  const std::vector<std::uint8_t> payload(1u << 20, 0x5a);
  for (unsigned run = 1; run <= options.runs; run++) {
    progress("big record: run " + std::to_string(run) + "/" + std::to_string(options.runs));
    BenchBus bus(Daemon::Ours, kManyConnections);
    test::SdBus admin = test::open_system_bus();
    test::SdBus other = test::open_system_bus();
    std::vector<test::SdBus> listener = connect_ping_listeners(1);
    const char *unique = nullptr;
    sd_bus_get_unique_name(listener.front().get(), &unique);
    const std::string id = freeze(admin.get(), unique);
    for (unsigned i = 0; i < kMegabytes; i++) {
      sd_bus_message *raw = nullptr;
      if (sd_bus_message_new_signal(admin.get(), &raw, kBenchPath, kBenchInterface, kPingSignal) < 0)
        throw std::runtime_error("cannot make a Ping");
      test::SdBusMessage ping(raw);
      if (sd_bus_message_append_array(ping.get(), 'y', payload.data(), payload.size()) < 0 ||
          sd_bus_send(admin.get(), ping.get(), nullptr) < 0)
        throw std::runtime_error("cannot emit a 1 MiB Ping");
    }
    bus_round_trip(admin.get());
    Samples during;
    const auto until = Clock::now() + kWindow;
    while (Clock::now() < until) {
      during.add(round_trip_ms(other.get()));
      std::this_thread::sleep_for(5ms);
    }
    median.add(during.median());
    slowest.add(during.max());
    thaw(admin.get(), id);
  }
  const std::string subject = std::to_string(kMegabytes) + " MiB queued";
  report.add({"record", "another peer's GetId, median", subject, "ms", median});
  report.add({"record", "another peer's GetId, slowest (the rewrite)", subject, "ms", slowest});
}

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-checkpoint", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage);
    raise_open_file_limit(16384);
    Report report(options);
    for (unsigned idle_peers : kIdlePeerCounts)
      measure_latencies(report, idle_peers, 4 * options.runs);
    measure_memory(report, options);
    measure_many_callers(report, options);
    measure_flood(report, options, /*with_fd=*/false);
    measure_flood(report, options, /*with_fd=*/true);
    measure_big_record(report, options);
    report.print_table("Freeze / Thaw latencies (our daemon, private system bus)", "latency");
    report.print_table("Daemon memory per frozen connection", "memory");
    report.print_table("Many callers of a frozen name (issue 12)", "load");
    report.print_table("An unprivileged (nobody) flood of NO_REPLY calls to a frozen name (issue 12)",
                       "flood");
    report.print_table("A big record rewritten on the bus's main loop (issue 12, finding 5)",
                       "record");
  });
}
