// SPDX-License-Identifier: GPL-2.0-or-later
#include "bench_peer.hpp"

#include <cstring>
#include <stdexcept>

#include "process.hpp"
#include "sample_service.hpp"

namespace dcp::bench {
namespace {

using namespace std::chrono_literals;

void check(int r, const std::string &what)
{
  if (r < 0)
    throw std::runtime_error(what + ": " + std::strerror(-r));
}

} // namespace

std::string bench_signal_rule(const char *member)
{
  return std::string("type='signal',interface='") + kBenchInterface + "',member='" + member + "'";
}

test::MethodCall echo_method(const std::string &destination, bool sample)
{
  if (sample)
    return {destination, test::kSampleObjectPath, test::kSampleInterface, "Echo", 10s};
  return {destination, kBenchPath, kBenchInterface, "Echo", 10s};
}

void emit_bench_signal(sd_bus *bus, const char *member, std::uint64_t counter)
{
  check(sd_bus_emit_signal(bus, kBenchPath, kBenchInterface, member, "t", counter),
        std::string("emit ") + member);
}

// UNPRIVILEGED: the bus policy decides who may call (see sample-sdbus.cpp).
const sd_bus_vtable BenchPeer::kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Echo", SD_BUS_ARGS("s", text), SD_BUS_RESULT("s", text), on_echo,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

BenchPeer::BenchPeer(const std::string &name) : name_(name), bus_(test::open_system_bus())
{
  sd_bus_slot *slot = nullptr;
  check(sd_bus_add_object_vtable(bus_.get(), &slot, kBenchPath, kBenchInterface, kVtable, this),
        "export " + std::string(kBenchPath));
  vtable_slot_.reset(slot);
  check(sd_bus_add_match(bus_.get(), &slot, bench_signal_rule(kPingSignal).c_str(), on_ping,
                         this),
        "AddMatch Ping");
  ping_slot_.reset(slot);
  check(sd_bus_request_name(bus_.get(), name_.c_str(), 0), "RequestName " + name_);
  thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
}

BenchPeer::~BenchPeer()
{
  thread_.request_stop();
  thread_.join();
}

void BenchPeer::serve(std::stop_token stop)
{
  while (!stop.stop_requested()) {
    int r = sd_bus_process(bus_.get(), nullptr);
    if (r < 0)
      return;  // the bus went away: the benchmark reports what is missing
    if (r == 0)
      sd_bus_wait(bus_.get(), 20'000);  // µs: bounds how long stopping takes
  }
}

int BenchPeer::on_echo(sd_bus_message *call, void *, sd_bus_error *)
{
  const char *text = nullptr;
  int r = sd_bus_message_read(call, "s", &text);
  if (r < 0)
    return r;
  return sd_bus_reply_method_return(call, "s", text);
}

int BenchPeer::on_ping(sd_bus_message *, void *userdata, sd_bus_error *)
{
  auto &peer = *static_cast<BenchPeer *>(userdata);
  peer.last_ping_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  peer.pings_.fetch_add(1, std::memory_order_release);
  return 0;
}

std::optional<Clock::time_point> BenchPeer::wait_for_ping_after(
    std::uint64_t seen, std::chrono::milliseconds timeout) const
{
  if (!test::wait_until([&] { return pings() > seen; }, timeout))
    return std::nullopt;
  return Clock::time_point(Clock::duration(last_ping_.load(std::memory_order_relaxed)));
}

} // namespace dcp::bench
