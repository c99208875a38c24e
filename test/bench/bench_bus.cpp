// SPDX-License-Identifier: GPL-2.0-or-later
#include "bench_bus.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bus_client.hpp"

namespace dcp::bench {
namespace {

using namespace std::chrono_literals;

// Paths fixed at configure time (test/bench/CMakeLists.txt); empty if absent.
constexpr const char *kStockDaemon = DCP_STOCK_DBUS_DAEMON;
constexpr const char *kStockSystemConf = DCP_STOCK_SYSTEM_CONF;
constexpr const char *kBrokerLaunch = DCP_DBUS_BROKER_LAUNCH;
constexpr const char *kSocketActivate = DCP_SYSTEMD_SOCKET_ACTIVATE;
constexpr const char *kUnshare = DCP_UNSHARE;

// Runs in the launcher's own mount namespace: a tmpfs /run whose
// systemd/journal/ is the directory holding our JournalSink's socket, then
// socket activation of dbus-broker-launch on the bus's socket path.
constexpr const char *kBrokerScript =
    "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
    "mount --bind \"$1\" /run/systemd/journal && "
    "exec \"$2\" -E DBUS_SYSTEM_BUS_ADDRESS -l \"$3\" \"$4\" --scope system --config-file \"$5\"";

test::PrivateSystemBus::Options bus_options(Daemon daemon, const std::string &extra_config)
{
  test::PrivateSystemBus::Options options;
  options.extra_config = extra_config;
  if (daemon != Daemon::Ours) {
    options.daemon_path = kStockDaemon;
    options.system_conf_path = kStockSystemConf;
  }
  return options;
}

} // namespace

// A datagram socket bound where the broker's launcher looks for the journal.
class JournalSink {
 public:
  explicit JournalSink(const std::filesystem::path &dir) : dir_(dir)
  {
    std::filesystem::create_directories(dir_);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
      throw std::runtime_error(std::string("journal socket: ") + std::strerror(errno));
    struct sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path = (dir_ / "socket").string();
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (bind(fd_, reinterpret_cast<struct sockaddr *>(&address), sizeof address) < 0) {
      close(fd_);
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
    }
  }
  ~JournalSink() { close(fd_); }
  JournalSink(const JournalSink &) = delete;
  JournalSink &operator=(const JournalSink &) = delete;
  const std::filesystem::path &dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
};

std::string to_string(Daemon daemon)
{
  switch (daemon) {
  case Daemon::Ours: return "ours";
  case Daemon::Stock: return "stock";
  case Daemon::Broker: return "broker";
  }
  return "unknown";
}

std::optional<std::string> broker_unavailable_reason()
{
  if (!*kBrokerLaunch)
    return "dbus-broker-launch not found (Debian package dbus-broker)";
  if (!*kSocketActivate)
    return "systemd-socket-activate not found (Debian package systemd)";
  if (!*kUnshare)
    return "unshare not found (Debian package util-linux)";
  if (geteuid() != 0)
    return "not root: dbus-broker-launch needs a private mount namespace for its journal socket";
  return std::nullopt;
}

BenchBus::BenchBus(Daemon daemon, const std::string &extra_config)
    : daemon_(daemon), bus_(bus_options(daemon, extra_config))
{
  if (daemon == Daemon::Broker)
    start_broker();
}

BenchBus::~BenchBus() = default;

std::filesystem::path BenchBus::broker_log_path() const { return bus_.dir() / "dbus-broker.log"; }

std::string BenchBus::broker_log() const { return test::read_file(broker_log_path().string()); }

void BenchBus::start_broker()
{
  if (auto why = broker_unavailable_reason())
    throw std::runtime_error("dbus-broker: " + *why);
  bus_.stop();
  std::filesystem::remove(bus_.socket_path());
  journal_ = std::make_unique<JournalSink>(bus_.dir() / "journal");
  launcher_ = test::ChildProcess(
      {kUnshare, "--mount", "--propagation", "private", "sh", "-c", kBrokerScript, "sh",
       journal_->dir().string(), kSocketActivate, bus_.socket_path().string(), kBrokerLaunch,
       bus_.config_path().string()},
      broker_log_path().string());
  bool listening = test::wait_until(
      [&] { return std::filesystem::exists(bus_.socket_path()) || !launcher_.running(); }, 10s);
  if (!listening || !launcher_.running())
    throw std::runtime_error("dbus-broker did not start; its log:\n" + broker_log());
  try {
    test::open_system_bus();  // the first client starts the launcher and waits for Hello
  } catch (const std::exception &e) {
    throw std::runtime_error(std::string("dbus-broker does not answer: ") + e.what() +
                             "; its log:\n" + broker_log());
  }
}

} // namespace dcp::bench
