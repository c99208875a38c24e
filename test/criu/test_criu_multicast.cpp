// SPDX-License-Identifier: GPL-2.0-or-later
// Multicast group memberships across a CRIU dump and restore: a process
// that joined IPv4 and IPv6 groups on a device, two of them with a source
// filter, must receive what is sent to each group after its restore, and
// its filters must still keep out what they kept out.  CRIU 4.2.1 dumps
// none of it (criu-patches/0006).  Needs root.
//
// The process (dcp-test-multicast-member, multicast_member.hpp) runs in a
// network namespace of the test's with a veth device (a real device, as
// avahi-daemon's, with IPv6 multicast routes and link-local addresses), and
// CRIU runs inside that namespace with nsenter: the namespace is CRIU's own,
// not dumped, and the restored sockets are in it again, as when a container
// sharing the host's network is restored.  Between dump and restore the
// device is deleted and added again, with another index: the groups must be
// joined on the device of the same name.  The sender is another process in
// the namespace.
#define BOOST_TEST_MODULE criu_multicast
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "criu_support.hpp"
#include "multicast_member.hpp"
#include "process.hpp"

using namespace dcp::test;
using namespace dcp::test::criu;
using namespace dcp::test::multicast;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

namespace {

// kDevice (a veth, peer kPeerDevice) up with two addresses of each family
// (IPv6 ones without duplicate address detection: usable at once).
std::string add_device_commands()
{
  const std::string device = kDevice;
  return "ip link add " + device + " type veth peer name " + kPeerDevice + "; ip link set " + kPeerDevice +
         " up; ip link set " + device + " up; ip addr add " + kSourceV4 + "/24 dev " + device +
         "; ip addr add " + kOtherSourceV4 + "/24 dev " + device + "; ip -6 addr add " + kSourceV6 +
         "/64 dev " + device + " nodad; ip -6 addr add " + kOtherSourceV6 + "/64 dev " + device + " nodad";
}

// A network namespace held by a `sleep` (killed with the test: --pdeathsig)
// with lo and kDevice up.
class Network {
 public:
  explicit Network(const fs::path &dir)
  {
    const fs::path ready = dir / "network.ready";
    const std::string prepare = "set -e; ip link set lo up; " + add_device_commands() + "; : > " +
                                ready.string() + "; exec sleep infinity";
    holder_ = ChildProcess({"setpriv", "--pdeathsig", "KILL", "unshare", "--net", "--", "sh", "-c", prepare},
                           (dir / "network.log").string());
    if (!wait_until([&] { return fs::exists(ready) || !holder_.running(); }, 10s) || !holder_.running())
      throw std::runtime_error("the network namespace did not come up: " + read_file(dir / "network.log"));
  }

  // kDevice deleted and added again: the same name and addresses, another
  // index (as a device may get after a reboot).
  void recreate_device() const
  {
    std::vector<std::string> argv = enter();
    argv.insert(argv.end(), {"sh", "-c", std::string("set -e; ip link del ") + kDevice + "; " + add_device_commands()});
    CommandResult recreated = run_command(argv, 10s);
    BOOST_REQUIRE_MESSAGE(recreated.ok(), "re-creating " << kDevice << ": " << recreated.describe());
  }

  int device_index() const
  {
    std::vector<std::string> argv = enter();
    argv.insert(argv.end(), {"ip", "-o", "link", "show", kDevice});
    CommandResult shown = run_command(argv, 10s);
    BOOST_REQUIRE_MESSAGE(shown.ok(), "ip link show " << kDevice << ": " << shown.describe());
    return std::stoi(shown.out);  // "INDEX: NAME@PEER: ..."
  }

  // Runs what follows it in the namespace (nsenter without --fork execs).
  CommandPrefix enter() const
  {
    return {"nsenter", "--target", std::to_string(holder_.pid()), "--net", "--"};
  }

 private:
  ChildProcess holder_;
};

const char *source_of(const char *address)
{
  return std::strchr(address, ':') ? kSourceV6 : kSourceV4;
}
const char *other_source_of(const char *address)
{
  return std::strchr(address, ':') ? kOtherSourceV6 : kOtherSourceV4;
}

class Member {
 public:
  Member(const Network &network, const fs::path &dir) : network_(network), log_(dir / "member.log")
  {
    const fs::path ready = dir / "member.ready";
    std::vector<std::string> argv = network.enter();
    argv.insert(argv.end(), {DCP_MULTICAST_MEMBER, "member", ready.string()});
    // A session leader: CRIU restores a detached task only if it leads its session.
    process = ChildProcess(argv, log_.string(), /*new_session=*/true);
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return fs::exists(ready) || !process.running(); }, 10s) &&
                              fs::exists(ready),
                          "the member did not join its groups: " << read_file(log_));
  }

  void send(const char *from, const char *to, const std::string &payload) const
  {
    std::vector<std::string> argv = network_.enter();
    argv.insert(argv.end(), {DCP_MULTICAST_MEMBER, "send", from, to, payload});
    CommandResult sent = run_command(argv, 10s);
    BOOST_REQUIRE_MESSAGE(sent.ok(), "send " << payload << ": " << sent.describe());
  }

  bool has_line(const std::string &line) const
  {
    return read_file(log_).find(line + "\n") != std::string::npos;
  }

  bool received(const std::string &payload) const
  {
    return wait_until([&] { return has_line("received " + payload); }, 3s);
  }

  // Each group gets a datagram its filter lets in; a filtered group first
  // gets one it keeps out (from the same sender: delivered, or dropped,
  // before the next).
  void expect_every_group_receives(const std::string &when) const
  {
    for (const Group &group : kGroups) {
      const std::string payload = std::string(group.name) + "-" + when;
      const char *kept_out_source = group.filter == Filter::IncludeOnly   ? other_source_of(group.address)
                                    : group.filter == Filter::ExcludeOnly ? group.source
                                                                          : nullptr;
      const std::string kept_out = payload + "-from-" + (kept_out_source ? kept_out_source : "");
      if (kept_out_source)
        send(kept_out_source, group.address, kept_out);
      const char *from = group.filter == Filter::IncludeOnly ? group.source : source_of(group.address);
      send(from, group.address, payload);
      BOOST_TEST(received(payload), "group " << group.name << " (" << group.address << ") " << when
                                             << ": nothing received from " << from << "\n"
                                             << read_file(log_));
      if (kept_out_source)
        BOOST_TEST(!has_line("received " + kept_out),
                   "group " << group.name << " " << when << ": its source filter let in " << kept_out);
    }
  }

  // The line with its sockets' multicast send options.
  std::string options() const
  {
    const std::size_t before = read_file(log_).size();
    send(kSourceV4, kSourceV4, kOptionsQuery);
    std::string line;
    wait_until([&] {
      const std::string text = read_file(log_);
      const std::size_t start = text.find("options ", before);
      const std::size_t end = start == std::string::npos ? start : text.find('\n', start);
      if (end == std::string::npos)
        return false;
      line = text.substr(start, end - start);
      return true;
    }, 5s);
    BOOST_REQUIRE_MESSAGE(!line.empty(), "no options line: " << read_file(log_));
    return line;
  }

  ChildProcess process;

 private:
  const Network &network_;
  fs::path log_;
};

} // namespace

BOOST_AUTO_TEST_CASE(restored_process_still_receives_its_multicast_groups)
{
  WorkDir work("dcp-multicast");
  Network network(work.path());
  Member member(network, work.path());
  member.expect_every_group_receives("before");
  const std::string options_before = member.options();
  BOOST_TEST(options_before.find("ttl=255 loop=0 if=10.9.0.1") != std::string::npos, options_before);

  const fs::path images = work.path() / "images";
  fs::create_directory(images);
  const pid_t pid = member.process.pid();
  CriuRun dump = criu_dump(pid, images, network.enter());
  BOOST_REQUIRE_MESSAGE(dump.result.ok(), "criu dump: " << dump.result.describe() << tail_of(images / "dump.log"));
  BOOST_REQUIRE(wait_until([&] { return !member.process.running(); }, 10s));
  BOOST_REQUIRE(wait_until_gone(pid, 10s));
  const int dumped_index = network.device_index();
  network.recreate_device();
  const int restored_index = network.device_index();
  BOOST_REQUIRE_NE(dumped_index, restored_index);

  CriuRun restore = criu_restore(images, network.enter());
  std::optional<RestoredProcess> restored;
  if (process_exists(pid))
    restored.emplace(pid);
  BOOST_REQUIRE_MESSAGE(restore.result.ok(),
                        "criu restore: " << restore.result.describe() << tail_of(images / "restore.log"));
  BOOST_TEST_MESSAGE("criu dump " << dump.wall.count() << " ms, restore " << restore.wall.count() << " ms");

  // IPV6_MULTICAST_IF names the device by its index: the new one.
  const std::string old_interface = " if=" + std::to_string(dumped_index);
  std::string options_expected = options_before;
  BOOST_REQUIRE(options_expected.ends_with(old_interface));
  options_expected.replace(options_expected.size() - old_interface.size(), old_interface.size(),
                           " if=" + std::to_string(restored_index));
  BOOST_TEST(member.options() == options_expected, "the multicast send options after the restore");
  member.expect_every_group_receives("after");
}
