// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-bench-throughput: message throughput of our patched dbus-daemon, the
// stock dbus-daemon 1.16.2 (same tarball, no patches, same meson options)
// and Debian's dbus-broker, each on a private system-type bus, with sd-bus
// clients and the sd-bus sample service (test/services) as the server:
//   - sequential round trips (Echo, one at a time),
//   - pipelined calls (Echo, 64 in flight),
//   - signal fan-out (1 emitter, 10 receivers with a match rule each).
// All daemons run at once and take turns, measure by measure, so that the
// ratios compare measurements made within seconds of each other.
#include <algorithm>
#include <atomic>
#include <exception>
#include <iostream>
#include <limits>
#include <map>
#include <poll.h>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench_bus.hpp"
#include "bench_peer.hpp"
#include "bench_support.hpp"
#include "bus_client.hpp"
#include "sample_service.hpp"

using namespace dcp;
using namespace dcp::bench;
using namespace std::chrono_literals;

namespace {

constexpr const char *kUsage = R"(Usage: dcp-bench-throughput [--runs N] [--scale F] [--json FILE]
Message throughput of our dbus-daemon, the stock one and dbus-broker (if it
can run here), each on a private system bus; prints medians of N runs (>= 5,
default 15) and the ratios ours/stock and broker/stock.  --scale multiplies
the time each measurement sends for (default 1: 0.25 s); --json appends the
figures to FILE.
)";

// The harness's policy lets anyone call the sample services with
// send_destination_prefix, which dbus-broker 33 does not know: every daemon
// gets the same plain rule as well.
const std::string kCallSampleService = std::string("<policy context=\"default\">") +
                                       "<allow send_destination=\"" +
                                       test::kSampleDefaultName + "\"/></policy>";

constexpr std::size_t kPipelineDepth = 64;
constexpr std::size_t kReceivers = 10;
constexpr const char *kEchoText = "ping";

// How long each measurement sends (pipelined calls and signals then drain).
using Workload = std::chrono::duration<double>;

enum class Measure { RoundTrips, Pipelined, FanOut };

struct MeasureInfo {
  Measure measure;
  const char *what;
  const char *unit;
};

constexpr MeasureInfo kMeasures[] = {
    {Measure::RoundTrips, "sequential round trips", "calls/s"},
    {Measure::Pipelined, "pipelined calls (64 in flight)", "calls/s"},
    {Measure::FanOut, "signal fan-out (1 -> 10, 256 ahead)", "signals/s"},
};

void require_reply(const test::CallResult &result)
{
  if (!result.ok())
    throw std::runtime_error("Echo failed: " + result.describe());
}

double sequential_round_trips(sd_bus *client, const std::string &service, Workload work)
{
  auto method = echo_method(service, /*sample=*/true);
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(work);
  std::size_t calls = 0;
  for (; Clock::now() < end; calls++)
    require_reply(test::call(client, method, "s", kEchoText));
  return static_cast<double>(calls) / seconds_between(start, Clock::now());
}

// Keeps `depth` Echo calls in flight while sending, then waits for the rest.
class Pipeline {
 public:
  Pipeline(sd_bus *bus, const std::string &service)
      : bus_(bus), method_(echo_method(service, /*sample=*/true)) {}

  double run(std::size_t depth, Workload work)
  {
    auto start = Clock::now();
    sending_until_ = start + std::chrono::duration_cast<Clock::duration>(work);
    for (std::size_t i = 0; i < depth; i++)
      send_one();
    if (!test::process_until(bus_, [&] { return answered_ == sent_; }, 120s))
      throw std::runtime_error("pipelined calls: timed out");
    if (failures_)
      throw std::runtime_error("pipelined calls: " + std::to_string(failures_) + " failed");
    return static_cast<double>(answered_) / seconds_between(start, Clock::now());
  }

 private:
  void send_one()
  {
    int r = sd_bus_call_method_async(bus_, nullptr, method_.destination.c_str(),
                                     method_.path.c_str(), method_.interface.c_str(),
                                     method_.member.c_str(), on_reply, this, "s", kEchoText);
    if (r < 0)
      failures_++;
    else
      sent_++;
  }

  static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *)
  {
    auto &pipeline = *static_cast<Pipeline *>(userdata);
    pipeline.answered_++;
    if (sd_bus_message_is_method_error(reply, nullptr))
      pipeline.failures_++;
    if (Clock::now() < pipeline.sending_until_)
      pipeline.send_one();
    return 0;
  }

  sd_bus *bus_;
  test::MethodCall method_;
  Clock::time_point sending_until_;
  std::size_t sent_ = 0;
  std::size_t answered_ = 0;
  std::size_t failures_ = 0;
};

// A connection that counts the Tick signals its match rule lets through.
class TickReceiver {
 public:
  TickReceiver() : bus_(test::open_system_bus())
  {
    sd_bus_slot *slot = nullptr;
    if (sd_bus_add_match(bus_.get(), &slot, bench_signal_rule(kTickSignal).c_str(), on_tick,
                         this) < 0)
      throw std::runtime_error("AddMatch Tick failed");
    slot_.reset(slot);
  }
  sd_bus *bus() const { return bus_.get(); }
  std::size_t received() const { return received_; }
  void reset() { received_ = 0; }

  // Handles everything already read or readable without blocking.
  void drain()
  {
    while (sd_bus_process(bus_.get(), nullptr) > 0) {
    }
  }

 private:
  static int on_tick(sd_bus_message *, void *userdata, sd_bus_error *)
  {
    static_cast<TickReceiver *>(userdata)->received_++;
    return 0;
  }
  test::SdBus bus_;
  test::SdBusSlot slot_;
  std::size_t received_ = 0;
};

// What the emitter's count is until it has finished.
constexpr std::size_t kNotYet = std::numeric_limits<std::size_t>::max();

// How far the emitter may run ahead of the slowest receiver: without a
// bound, a bus that lets one sender flood its queues (dbus-broker drops
// signals over a peer's quota) would measure its dropping, not delivering.
constexpr std::size_t kFanOutWindow = 256;

// One fan-out measurement: the emitter's thread and this one, receiving.
class FanOut {
 public:
  FanOut(sd_bus *emitter, const std::vector<std::unique_ptr<TickReceiver>> &receivers)
      : emitter_(emitter), receivers_(receivers) {}

  // Delivered signals per second.
  double run(Workload work)
  {
    for (const auto &receiver : receivers_)
      receiver->reset();
    auto start = Clock::now();
    std::exception_ptr emit_failure;
    {
      std::jthread emitting([&] {
        try {
          emitted_ = emit(work);
        } catch (...) {
          emit_failure = std::current_exception();
          emitted_ = 0;
        }
      });
      receive_all();
    }
    if (emit_failure)
      std::rethrow_exception(emit_failure);
    return static_cast<double>(emitted_ * receivers_.size()) /
           seconds_between(start, Clock::now());
  }

 private:
  // Emits for `work`, never more than kFanOutWindow ahead of the slowest
  // receiver; returns how many.
  std::size_t emit(Workload work)
  {
    auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(work);
    std::size_t emitted = 0;
    while (Clock::now() < end) {
      if (emitted - slowest_.load(std::memory_order_acquire) >= kFanOutWindow) {
        std::this_thread::sleep_for(20us);  // not a spin: the bus needs the CPU
        continue;
      }
      emit_bench_signal(emitter_, kTickSignal, emitted++);
      sd_bus_flush(emitter_);
    }
    return emitted;
  }

  std::size_t slowest_received() const
  {
    std::size_t slowest = kNotYet;
    for (const auto &receiver : receivers_)
      slowest = std::min(slowest, receiver->received());
    return slowest;
  }

  // Waits on every receiver's socket at once until each has all the
  // signals the emitter sent; throws if nothing arrives for 10 s.
  void receive_all()
  {
    std::vector<pollfd> fds(receivers_.size());
    auto last_progress = Clock::now();
    while (true) {
      for (const auto &receiver : receivers_)
        receiver->drain();
      std::size_t slowest = slowest_received();
      if (slowest != slowest_.load(std::memory_order_relaxed))
        last_progress = Clock::now();
      slowest_.store(slowest, std::memory_order_release);
      if (slowest >= emitted_.load())
        return;
      if (Clock::now() - last_progress > 10s)
        throw std::runtime_error("signal fan-out: stalled, slowest receiver has " +
                                 std::to_string(slowest) + " signals");
      for (std::size_t i = 0; i < receivers_.size(); i++)
        fds[i] = {sd_bus_get_fd(receivers_[i]->bus()),
                  static_cast<short>(sd_bus_get_events(receivers_[i]->bus())), 0};
      // While the emitter runs, its final count may complete what has arrived.
      poll(fds.data(), fds.size(), emitted_ == kNotYet ? 1 : 100);
    }
  }

  sd_bus *emitter_;
  const std::vector<std::unique_ptr<TickReceiver>> &receivers_;
  std::atomic<std::size_t> emitted_{kNotYet};
  std::atomic<std::size_t> slowest_{0};
};

// One daemon with the sample service and the clients that measure it, all
// set up while DBUS_SYSTEM_BUS_ADDRESS names its bus (the next daemon's
// PrivateSystemBus changes it), so that the daemons can take turns.
class DaemonUnderTest {
 public:
  explicit DaemonUnderTest(Daemon daemon)
      : bus_(daemon, kCallSampleService), service_(test::SampleKind::SdBus, bus_.config()),
        client_(test::open_system_bus())
  {
    for (std::size_t i = 0; i < kReceivers; i++)
      receivers_.push_back(std::make_unique<TickReceiver>());
    sequential_round_trips(client_.get(), service_name(), 50ms);  // warm-up
  }

  Daemon daemon() const { return bus_.daemon(); }

  double measure(Measure measure, const Workload &work)
  {
    switch (measure) {
    case Measure::RoundTrips:
      return sequential_round_trips(client_.get(), service_name(), work);
    case Measure::Pipelined:
      return Pipeline(client_.get(), service_name()).run(kPipelineDepth, work);
    case Measure::FanOut:
      return FanOut(client_.get(), receivers_).run(work);
    }
    throw std::logic_error("unknown measure");
  }

 private:
  const std::string &service_name() const { return service_.well_known_name(); }
  BenchBus bus_;
  test::SampleService service_;
  test::SdBus client_;
  std::vector<std::unique_ptr<TickReceiver>> receivers_;
};

std::vector<Daemon> daemons_to_compare()
{
  std::vector<Daemon> daemons = {Daemon::Ours, Daemon::Stock};
  if (auto why = broker_unavailable_reason())
    std::cout << "dbus-broker not measured: " << *why << "\n";
  else
    daemons.push_back(Daemon::Broker);
  return daemons;
}

// Samples per measure and daemon, run i of each taken back to back.
using Results = std::map<std::pair<Measure, Daemon>, Samples>;

void run_all(std::vector<std::unique_ptr<DaemonUnderTest>> &daemons, const Workload &work,
             unsigned runs, Results &results)
{
  for (unsigned run = 0; run < runs; run++) {
    progress("throughput run " + std::to_string(run + 1) + "/" + std::to_string(runs));
    for (const MeasureInfo &m : kMeasures)
      for (std::size_t i = 0; i < daemons.size(); i++) {
        // Each run starts with another daemon: none is always measured first.
        DaemonUnderTest &d = *daemons[(i + run) % daemons.size()];
        results[{m.measure, d.daemon()}].add(d.measure(m.measure, work));
      }
  }
}

void report(Report &report, const Results &results, const std::vector<Daemon> &daemons)
{
  for (const MeasureInfo &m : kMeasures)
    for (Daemon daemon : daemons)
      report.add({"throughput", m.what, to_string(daemon), m.unit,
                  results.at({m.measure, daemon})});
  for (Daemon daemon : daemons) {
    if (daemon == Daemon::Stock)
      continue;
    for (const MeasureInfo &m : kMeasures)
      report.add({"throughput-ratio", m.what, to_string(daemon) + "/stock", "x (paired runs)",
                  paired_ratios(results.at({m.measure, daemon}),
                                results.at({m.measure, Daemon::Stock}))});
  }
}

} // namespace

int main(int argc, char **argv)
{
  return run_benchmark("dcp-bench-throughput", [&] {
    BenchOptions options = parse_bench_options(argc, argv, kUsage, /*default_runs=*/15);
    Workload work = 0.25s * options.scale;
    std::vector<Daemon> daemons = daemons_to_compare();
    std::vector<std::unique_ptr<DaemonUnderTest>> under_test;
    for (Daemon daemon : daemons)
      under_test.push_back(std::make_unique<DaemonUnderTest>(daemon));
    Results results;
    run_all(under_test, work, options.runs, results);
    Report table(options);
    report(table, results, daemons);
    table.print_table("Throughput (sd-bus clients, private system buses)", "throughput");
    table.print_table("Ratios, run by run (goal: ours/stock >= 0.98)", "throughput-ratio");
  });
}
