// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus_client.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dcp::test {
namespace {

int check(int r, const std::string &what)
{
  if (r < 0)
    throw std::runtime_error(what + ": " + std::strerror(-r));
  return r;
}

uint64_t to_usec(std::chrono::steady_clock::duration duration)
{
  auto usec = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  return usec > 0 ? static_cast<uint64_t>(usec) : 0;
}

} // namespace

SdBus open_system_bus()
{
  sd_bus *raw = nullptr;
  check(sd_bus_open_system(&raw), "sd_bus_open_system");
  SdBus bus(raw);
  const char *unique = nullptr;
  check(sd_bus_get_unique_name(bus.get(), &unique), "Hello");  // waits for Hello's reply
  return bus;
}

std::string CallResult::describe() const
{
  if (ok())
    return "reply";
  return "error " + error_name + ": " + error_message;
}

CallResult call(sd_bus *bus, const MethodCall &method, const ArgumentWriter &write_arguments)
{
  sd_bus_message *raw = nullptr;
  check(sd_bus_message_new_method_call(bus, &raw, method.destination.c_str(), method.path.c_str(),
                                       method.interface.c_str(), method.member.c_str()),
        "new call " + method.member);
  SdBusMessage message(raw);
  if (write_arguments)
    check(write_arguments(message.get()), "arguments of " + method.member);

  SdBusError error;
  sd_bus_message *reply = nullptr;
  int r = sd_bus_call(bus, message.get(), to_usec(method.timeout), error.get(), &reply);
  CallResult result;
  if (r >= 0) {
    result.reply.reset(reply);
  } else if (error.is_set()) {
    result.error_name = error.name();
    result.error_message = error.message();
  } else {
    result.error_name = "(local)";
    result.error_message = std::strerror(-r);
  }
  return result;
}

std::string read_string(sd_bus_message *message)
{
  const char *text = nullptr;
  check(sd_bus_message_read(message, "s", &text), "read string");
  return text;
}

std::uint64_t read_uint64(sd_bus_message *message)
{
  uint64_t value = 0;
  check(sd_bus_message_read(message, "t", &value), "read uint64");
  return value;
}

std::vector<std::string> read_string_array(sd_bus_message *message)
{
  std::vector<std::string> strings;
  check(sd_bus_message_enter_container(message, 'a', "s"), "read string array");
  const char *text = nullptr;
  while (check(sd_bus_message_read(message, "s", &text), "read string array item") > 0)
    strings.emplace_back(text);
  check(sd_bus_message_exit_container(message), "read string array end");
  return strings;
}

bool process_until(sd_bus *bus, const std::function<bool()> &done,
                   std::chrono::milliseconds timeout)
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (check(sd_bus_process(bus, nullptr), "sd_bus_process") > 0)
      continue;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return false;
    int r = sd_bus_wait(bus, to_usec(deadline - now));
    if (r != -EINTR)
      check(r, "sd_bus_wait");
  }
  return true;
}

SignalCollector::SignalCollector(sd_bus *bus, const std::string &match_rule) : bus_(bus)
{
  sd_bus_slot *raw = nullptr;
  check(sd_bus_add_match(bus, &raw, match_rule.c_str(), on_signal, this),
        "AddMatch " + match_rule);
  slot_.reset(raw);
}

bool SignalCollector::wait_for(std::size_t count, std::chrono::milliseconds timeout)
{
  return process_until(bus_, [&] { return received_.size() >= count; }, timeout);
}

int SignalCollector::on_signal(sd_bus_message *message, void *userdata, sd_bus_error *)
{
  auto &collector = *static_cast<SignalCollector *>(userdata);
  collector.received_.emplace_back(sd_bus_message_ref(message));
  return 0;
}

} // namespace dcp::test
