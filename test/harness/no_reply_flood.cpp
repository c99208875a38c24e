// SPDX-License-Identifier: GPL-2.0-or-later
#include "no_reply_flood.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace dcp::test {
namespace {

constexpr const char *kLimitsExceeded = "org.freedesktop.DBus.Error.LimitsExceeded";
constexpr const char *kNotSupported = "org.freedesktop.DBus.Error.NotSupported";

int count_error(sd_bus_message *message, void *userdata, sd_bus_error *)
{
  auto &result = *static_cast<FloodResult *>(userdata);
  const sd_bus_error *e = sd_bus_message_get_error(message);
  if (e == nullptr)
    return 0;
  if (std::strcmp(e->name, kLimitsExceeded) == 0)
    result.limits_exceeded++;
  else if (std::strcmp(e->name, kNotSupported) == 0)
    result.not_supported++;
  else
    result.other_errors++;
  return 0;
}

// The child's whole life; its exit status says which step failed.
[[noreturn]] void flood(const MethodCall &call, const std::string &argument, unsigned count,
                        uid_t uid, bool with_fd, int result_fd)
{
  if (uid != 0 && (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 ||
                   setresuid(uid, uid, uid) != 0))
    _exit(10);
  sd_bus *raw = nullptr;
  if (sd_bus_open_system(&raw) < 0)
    _exit(11);
  SdBus bus(raw);
  FloodResult result;
  sd_bus_slot *filter = nullptr;
  if (sd_bus_add_filter(bus.get(), &filter, count_error, &result) < 0)
    _exit(12);
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (unsigned i = 0; i < count; i++) {
    sd_bus_message *raw_message = nullptr;
    if (sd_bus_message_new_method_call(bus.get(), &raw_message, call.destination.c_str(),
                                       call.path.c_str(), call.interface.c_str(),
                                       call.member.c_str()) < 0)
      _exit(13);
    SdBusMessage message(raw_message);
    if ((!argument.empty() && sd_bus_message_append(message.get(), "s", argument.c_str()) < 0) ||
        (with_fd && sd_bus_message_append(message.get(), "h", devnull) < 0))
      _exit(14);
    sd_bus_message_set_expect_reply(message.get(), 0);
    if (sd_bus_send(bus.get(), message.get(), nullptr) < 0)
      _exit(15);
    result.sent++;
    if (i % 256 == 255) {  // read the errors as they come: our socket must not fill
      sd_bus_flush(bus.get());
      while (sd_bus_process(bus.get(), nullptr) > 0) {
      }
    }
  }
  sd_bus_flush(bus.get());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline)
    if (sd_bus_process(bus.get(), nullptr) <= 0)
      sd_bus_wait(bus.get(), 50'000);
  sd_bus_slot_unref(filter);
  _exit(write(result_fd, &result, sizeof result) == static_cast<ssize_t>(sizeof result) ? 0 : 16);
}

} // namespace

NoReplyFlood::NoReplyFlood(const MethodCall &call, const std::string &argument, unsigned count,
                           uid_t uid, bool with_fd)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  child_ = fork();
  if (child_ < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error("fork failed");
  }
  if (child_ == 0) {
    close(fds[0]);
    flood(call, argument, count, uid, with_fd, fds[1]);
  }
  close(fds[1]);
  result_fd_ = fds[0];
}

NoReplyFlood::~NoReplyFlood()
{
  if (child_ > 0 && !exited_) {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
  }
  if (result_fd_ >= 0)
    close(result_fd_);
}

bool NoReplyFlood::done()
{
  if (!exited_ && waitpid(child_, &status_, WNOHANG) == child_)
    exited_ = true;
  return exited_;
}

FloodResult NoReplyFlood::finish()
{
  if (!exited_ && waitpid(child_, &status_, 0) == child_)
    exited_ = true;
  FloodResult result;
  const ssize_t n = read(result_fd_, &result, sizeof result);
  if (!exited_ || !WIFEXITED(status_) || WEXITSTATUS(status_) != 0 ||
      n != static_cast<ssize_t>(sizeof result))
    throw std::runtime_error("the flooding child failed (wait status " + std::to_string(status_) +
                             "; exit 10-16 name its step in no_reply_flood.cpp)");
  return result;
}

} // namespace dcp::test
