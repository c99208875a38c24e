// SPDX-License-Identifier: GPL-2.0-or-later
// Shared by the record tests: owners for what the C ABI hands out, a fully
// populated record, D-Bus message bytes and a scratch directory.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dbus-checkpoint/bus-abi.h"
#include "record/record.hpp"

namespace dcp::test {

struct RecordDeleter {
  void operator()(DcpRecord *record) const { dcp_record_free(record); }
};
struct FreeDeleter {
  void operator()(void *memory) const { std::free(memory); }
};
using RecordPtr = std::unique_ptr<DcpRecord, RecordDeleter>;
using MallocedText = std::unique_ptr<char, FreeDeleter>;

inline constexpr char kCheckpointId[] = "0123456789abcdef0123456789abcdef";
inline constexpr char kUniqueName[] = ":1.42";

// What the full record holds, so tests can compare getters against it.
struct FullRecordValues {
  struct Name {
    std::string name;
    std::uint32_t flags;
    std::uint32_t queue_position;
  };
  struct Reply {
    DcpReplyDirection direction;
    std::string peer;
    std::uint32_t serial;
    std::int64_t remaining_timeout_ms;
  };
  struct Queued {
    std::string bytes;
    bool is_reply;
  };
  std::vector<Name> names;
  std::vector<std::string> match_rules;
  std::vector<Reply> replies; // owed by the connection first, as the getters list them
  std::uint32_t uid;
  std::vector<std::uint32_t> gids;
  std::uint32_t pid;
  std::string security_label;
  std::uint32_t next_bus_serial;
  bool unix_fd_passing;
  std::vector<Queued> queued;
  std::uint64_t dropped_signals;
  std::string unparsed_from_client;
  std::string unread_by_client;
  std::int64_t frozen_since_usec;
};

const FullRecordValues &full_record_values();

// The start of a D-Bus message: little-endian, `type`, protocol version 1,
// padded with zeros to `size` bytes.  Enough for the record's checks.
std::string marshalled_message(std::uint8_t type, std::size_t size = 32);

// A record with every field set (through the C ABI) to full_record_values().
RecordPtr make_full_record();
// The smallest record that serializes: id, unique name, credentials.
RecordPtr make_minimal_record(const char *checkpoint_id = kCheckpointId);

// dcp_record_serialize(), failing the test if it fails.
std::string serialize(const DcpRecord *record);
// The full record as the generated protobuf class, for tests that break it.
dbus_checkpoint::record::FrozenConnection full_proto();
std::string bytes_of(const dbus_checkpoint::record::FrozenConnection &proto);

struct ParseOutcome {
  int result;
  RecordPtr record;
  std::string error; // empty if dcp_record_parse gave no text
};
ParseOutcome parse(std::string_view bytes);

// mkdtemp() under $TMPDIR (or /tmp), removed with its contents at the end.
class TemporaryDirectory {
public:
  TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory &) = delete;
  TemporaryDirectory &operator=(const TemporaryDirectory &) = delete;
  ~TemporaryDirectory();

  const std::filesystem::path &path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace dcp::test
