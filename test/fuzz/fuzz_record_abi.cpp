// SPDX-License-Identifier: GPL-2.0-or-later
// dcp_record_parse(), as the daemon calls it on Import and at start-up, and
// every getter on what it accepts; an accepted record serializes, and its
// bytes parse again.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "dbus-checkpoint/bus-abi.h"
#include "fuzz_support.hpp"

namespace {

struct RecordFree {
  void operator()(DcpRecord *record) const { dcp_record_free(record); }
};
struct Free {
  void operator()(void *memory) const { std::free(memory); }
};

// Touches every byte a getter hands out, so ASan sees a bad pointer.
std::size_t visit_all(const DcpRecord *record)
{
  std::size_t sum = 0;
  const auto bytes = [&](const void *p, std::size_t n) {
    for (std::size_t i = 0; i < n; i++)
      sum += static_cast<const unsigned char *>(p)[i];
  };
  const auto text = [&](const char *s) {
    if (s)
      for (; *s; s++)
        sum += static_cast<unsigned char>(*s);
  };
  text(dcp_record_get_checkpoint_id(record));
  text(dcp_record_get_unique_name(record));
  for (std::size_t i = 0; i < dcp_record_get_n_names(record); i++) {
    const char *name = nullptr;
    std::uint32_t flags = 0, position = 0;
    dcp::fuzz::require(dcp_record_get_name(record, i, &name, &flags, &position) == 0, "get_name");
    text(name);
  }
  dcp::fuzz::require(dcp_record_get_name(record, dcp_record_get_n_names(record), nullptr, nullptr,
                                         nullptr) < 0,
                     "get_name past the end");
  for (std::size_t i = 0; i < dcp_record_get_n_match_rules(record); i++)
    text(dcp_record_get_match_rule(record, i));
  for (std::size_t i = 0; i < dcp_record_get_n_pending_replies(record); i++) {
    DcpReplyDirection direction;
    const char *peer = nullptr;
    std::uint32_t serial = 0;
    std::int64_t remaining = 0;
    dcp::fuzz::require(dcp_record_get_pending_reply(record, i, &direction, &peer, &serial, &remaining) == 0,
                       "get_pending_reply");
    text(peer);
  }
  std::uint32_t uid = 0, pid = 0;
  const std::uint32_t *gids = nullptr;
  std::size_t n_gids = 0;
  const char *label = nullptr;
  dcp_record_get_credentials(record, &uid, &gids, &n_gids, &pid, &label);
  bytes(gids, n_gids * sizeof *gids);
  text(label);
  for (std::size_t i = 0; i < dcp_record_get_n_queued_messages(record); i++) {
    const void *message = nullptr;
    std::size_t n = 0;
    int is_reply = 0;
    dcp::fuzz::require(dcp_record_get_queued_message(record, i, &message, &n, &is_reply) == 0,
                       "get_queued_message");
    bytes(message, n);
  }
  const void *p = nullptr;
  std::size_t n = 0;
  dcp_record_get_unparsed_from_client(record, &p, &n);
  bytes(p, n);
  dcp_record_get_unread_by_client(record, &p, &n);
  bytes(p, n);
  text(dcp_record_get_reattach_secret(record));
  return sum + dcp_record_get_next_bus_serial(record) + dcp_record_get_dropped_signals(record);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  DcpRecord *raw = nullptr;
  char *raw_error = nullptr;
  const int parsed = dcp_record_parse(data, size, &raw, &raw_error);
  std::unique_ptr<DcpRecord, RecordFree> record(raw);
  std::unique_ptr<char, Free> error(raw_error);
  if (parsed != 0) {
    dcp::fuzz::require(!record, "no record on failure");
    dcp::fuzz::require(parsed == -ENOMEM || (error && *error.get()), "a refused record says why");
    return 0;
  }
  dcp::fuzz::require(record && !error, "a record and no error on success");
  volatile std::size_t sink = visit_all(record.get());
  (void)sink;
  void *raw_bytes = nullptr;
  std::size_t n_bytes = 0;
  dcp::fuzz::require(dcp_record_serialize(record.get(), &raw_bytes, &n_bytes) == 0,
                     "an accepted record serializes");
  std::unique_ptr<void, Free> bytes(raw_bytes);
  DcpRecord *again = nullptr;
  dcp::fuzz::require(dcp_record_parse(bytes.get(), n_bytes, &again, nullptr) == 0,
                     "a serialized record parses");
  dcp_record_free(again);
  return 0;
}
