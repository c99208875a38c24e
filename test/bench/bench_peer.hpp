// SPDX-License-Identifier: GPL-2.0-or-later
// The names, paths and members the benchmark programs use, and an sd-bus
// peer served by a thread of the benchmark process itself, so that the
// moment it receives something is known on the benchmark's own clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "bench_support.hpp"
#include "bus_client.hpp"

namespace dcp::bench {

inline constexpr const char *kBenchPath = "/org/dbuscheckpoint/Bench";
inline constexpr const char *kBenchInterface = "org.dbuscheckpoint.Bench1";
inline constexpr const char *kPingSignal = "Ping";  // counted by BenchPeer
inline constexpr const char *kTickSignal = "Tick";  // the fan-out benchmark's signal

// Match rule for a signal of kBenchInterface.
std::string bench_signal_rule(const char *member);

// Echo(s) -> s on `destination`'s kBenchPath (BenchPeer) or, with
// `sample`, on the sample service's object (test/services).
test::MethodCall echo_method(const std::string &destination, bool sample = false);

// Emits a kBenchInterface signal with a counter argument.
void emit_bench_signal(sd_bus *bus, const char *member, std::uint64_t counter);

// Owns `name`, answers Echo(s), and records when each Ping signal arrives.
class BenchPeer {
 public:
  explicit BenchPeer(const std::string &name);
  ~BenchPeer();
  BenchPeer(const BenchPeer &) = delete;
  BenchPeer &operator=(const BenchPeer &) = delete;

  const std::string &name() const { return name_; }
  std::uint64_t pings() const { return pings_.load(std::memory_order_acquire); }
  // Once more than `seen` Pings arrived: when the latest did; nullopt on timeout.
  std::optional<Clock::time_point> wait_for_ping_after(std::uint64_t seen,
                                                       std::chrono::milliseconds timeout) const;

 private:
  static const sd_bus_vtable kVtable[];
  static int on_echo(sd_bus_message *call, void *userdata, sd_bus_error *);
  static int on_ping(sd_bus_message *signal, void *userdata, sd_bus_error *);
  void serve(std::stop_token stop);

  std::string name_;
  test::SdBus bus_;
  test::SdBusSlot vtable_slot_;
  test::SdBusSlot ping_slot_;
  std::atomic<Clock::rep> last_ping_{0};
  std::atomic<std::uint64_t> pings_{0};
  std::jthread thread_;  // last: stopped and joined before the bus goes
};

} // namespace dcp::bench
