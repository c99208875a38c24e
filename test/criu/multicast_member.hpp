// SPDX-License-Identifier: GPL-2.0-or-later
// What test_criu_multicast and its two processes (dcp-test-multicast-member:
// the member CRIU dumps and restores, and the sender) agree on: a veth
// device in a network namespace of the test's, the port, the groups the
// member joins on that device and the addresses datagrams come from.
#pragma once

#include <array>

namespace dcp::test::multicast {

inline constexpr const char *kDevice = "dcp-mc0";      // the member's groups are joined here
inline constexpr const char *kPeerDevice = "dcp-mc1";  // its veth peer, only for the link to be up
inline constexpr unsigned short kPort = 47001;

// Sources: the device has two addresses of each family.
inline constexpr const char *kSourceV4 = "10.9.0.1";
inline constexpr const char *kOtherSourceV4 = "10.9.0.2";
inline constexpr const char *kSourceV6 = "fe80::1";
inline constexpr const char *kOtherSourceV6 = "fe80::2";

enum class Filter { AnySource, IncludeOnly, ExcludeOnly };

struct Group {
  const char *name;     // in payloads and messages
  const char *address;
  Filter filter;
  const char *source;   // the source IncludeOnly lets in, ExcludeOnly keeps out
};

inline constexpr std::array<Group, 4> kGroups{{
    {"any-source-v4", "239.1.2.3", Filter::AnySource, nullptr},
    {"include-v4", "232.1.2.3", Filter::IncludeOnly, kSourceV4},
    {"any-source-v6", "ff02::1:2:3", Filter::AnySource, nullptr},
    {"exclude-v6", "ff02::1:2:4", Filter::ExcludeOnly, kOtherSourceV6},
}};

// The member's answer to a datagram carrying kOptionsQuery (unicast to
// kSourceV4): a line "options ..." with its sockets' multicast options.
inline constexpr const char *kOptionsQuery = "options?";

} // namespace dcp::test::multicast
